"""Pub/Sub commands: (P|S)SUBSCRIBE, (P|S)UNSUBSCRIBE, PUBLISH, SPUBLISH and PUBSUB.

The subscriptions themselves live in ``minikv.pubsub.Hub`` (``ctx.server.pubsub``); these
handlers parse, call it and return its frames. A (un)subscription's reply is one frame per
channel (arrays in RESP2, pushes in RESP3), returned pre-encoded, so that SUBSCRIBE a b
answers with two frames as Redis does (inside EXEC too). A RESP2 client that is subscribed may
only send the commands the dispatcher allows (``Command.allowed_subscribed``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from minikv.commands import KeySpec, command, container, subcommand_syntax_error
from minikv.commands.server import help_reply
from minikv.parsing import compile_pattern
from minikv.protocol import Raw, ReplyError
from minikv.pubsub import SHARD

if TYPE_CHECKING:
    from minikv.commands.context import Context

PS = "pubsub"
SUB_FLAGS = "pubsub noscript loading stale"
#: The channel of SSUBSCRIBE & co. is declared like a key (for cluster slots), never one.
SHARD_CHANNELS = (KeySpec("not_key", 1, lastkey=-1),)


@command(
    "subscribe",
    -2,
    SUB_FLAGS + " sentinel",
    group=PS,
    summary="Listen for messages published to the given channels",
    since="2.0.0",
    complexity="O(N) where N is the number of channels to subscribe to.",
    args="channel [channel ...]",
)
def subscribe(c: Context, args: list[bytes]) -> Any:
    return Raw(c.server.pubsub.subscribe(c, args[1:]))


@command(
    "unsubscribe",
    -1,
    SUB_FLAGS + " sentinel",
    group=PS,
    summary="Stop listening for messages posted to the given channels",
    since="2.0.0",
    complexity="O(N) where N is the number of clients already subscribed to a channel.",
    args="[channel [channel ...]]",
)
def unsubscribe(c: Context, args: list[bytes]) -> Any:
    return Raw(c.server.pubsub.unsubscribe(c, args[1:]))


@command(
    "psubscribe",
    -2,
    SUB_FLAGS + " sentinel",
    group=PS,
    summary="Listen for messages published to channels matching the given patterns",
    since="2.0.0",
    complexity="O(N) where N is the number of patterns the client is already subscribed to.",
    args="pattern [pattern ...]",
)
def psubscribe(c: Context, args: list[bytes]) -> Any:
    return Raw(c.server.pubsub.psubscribe(c, args[1:]))


@command(
    "punsubscribe",
    -1,
    SUB_FLAGS + " sentinel",
    group=PS,
    summary="Stop listening for messages posted to channels matching the given patterns",
    since="2.0.0",
    complexity="O(N+M) where N is the number of patterns the client is already subscribed and "
    "M is the number of total patterns subscribed in the system (by any client).",
    args="[pattern [pattern ...]]",
)
def punsubscribe(c: Context, args: list[bytes]) -> Any:
    return Raw(c.server.pubsub.punsubscribe(c, args[1:]))


@command(
    "ssubscribe",
    -2,
    SUB_FLAGS,
    key_specs=SHARD_CHANNELS,
    group=PS,
    summary="Listen for messages published to the given shard channels",
    since="7.0.0",
    complexity="O(N) where N is the number of shard channels to subscribe to.",
    args="shardchannel [shardchannel ...]",
)
def ssubscribe(c: Context, args: list[bytes]) -> Any:
    if c.last_cmd != "ssubscribe":  # run by EXEC, which denies blocking: Redis counts this
        # as blocking (SUBSCRIBE and PSUBSCRIBE are let through inside MULTI for old clients)
        raise ReplyError("ERR SSUBSCRIBE isn't allowed for a DENY BLOCKING client")
    return Raw(c.server.pubsub.subscribe(c, args[1:], SHARD))


@command(
    "sunsubscribe",
    -1,
    SUB_FLAGS,
    key_specs=SHARD_CHANNELS,
    group=PS,
    summary="Stop listening for messages posted to the given shard channels",
    since="7.0.0",
    complexity="O(N) where N is the number of clients already subscribed to a shard channel.",
    args="[shardchannel [shardchannel ...]]",
)
def sunsubscribe(c: Context, args: list[bytes]) -> Any:
    return Raw(c.server.pubsub.unsubscribe(c, args[1:], SHARD))


@command(
    "publish",
    3,
    "pubsub loading stale fast may_replicate sentinel",
    group=PS,
    summary="Post a message to a channel",
    since="2.0.0",
    complexity="O(N+M) where N is the number of clients subscribed to the receiving channel "
    "and M is the total number of subscribed patterns (by any client).",
    args="channel message",
)
def publish(c: Context, args: list[bytes]) -> Any:
    c.server.keyspace.propagation.replicas_only(args)
    return c.server.pubsub.publish(args[1], args[2])


@command(
    "spublish",
    3,
    "pubsub loading stale fast may_replicate",
    key_specs=(KeySpec("not_key", 1),),
    group=PS,
    summary="Post a message to a shard channel",
    since="7.0.0",
    complexity="O(N) where N is the number of clients subscribed to the receiving shard channel.",
    args="shardchannel message",
)
def spublish(c: Context, args: list[bytes]) -> Any:
    c.server.keyspace.propagation.replicas_only(args)
    return c.server.pubsub.publish(args[1], args[2], shard=True)


# --- PUBSUB ----------------------------------------------------------------------------------

container("pubsub", -2, group=PS, summary="A container for Pub/Sub commands", since="2.8.0")

_INTROSPECTION = "pubsub loading stale"


def _channel_list(args: list[bytes], names: dict[bytes, Any]) -> list[bytes]:
    if len(args) > 3:
        raise subcommand_syntax_error(args)
    if len(args) == 2:
        return list(names)
    match = compile_pattern(args[2])
    return [name for name in names if match(name)]


@command(
    "channels",
    -2,
    _INTROSPECTION,
    parent="pubsub",
    group=PS,
    summary="List active channels",
    since="2.8.0",
    complexity="O(N) where N is the number of active channels, and assuming constant time "
    "pattern matching (relatively short channels and patterns)",
    args="[pattern]",
)
def pubsub_channels(c: Context, args: list[bytes]) -> Any:
    return _channel_list(args, c.server.pubsub.channels)


@command(
    "shardchannels",
    -2,
    _INTROSPECTION,
    parent="pubsub",
    group=PS,
    summary="List active shard channels",
    since="7.0.0",
    complexity="O(N) where N is the number of active shard channels, and assuming constant "
    "time pattern matching (relatively short shard channels).",
    args="[pattern]",
)
def pubsub_shardchannels(c: Context, args: list[bytes]) -> Any:
    return _channel_list(args, c.server.pubsub.shard)


@command(
    "numsub",
    -2,
    _INTROSPECTION,
    parent="pubsub",
    group=PS,
    summary="Get the count of subscribers for channels",
    since="2.8.0",
    complexity="O(N) for the NUMSUB subcommand, where N is the number of requested channels",
    args="[channel [channel ...]]",
)
def pubsub_numsub(c: Context, args: list[bytes]) -> Any:
    hub = c.server.pubsub
    return [x for ch in args[2:] for x in (ch, hub.numsub(ch))]


@command(
    "shardnumsub",
    -2,
    _INTROSPECTION,
    parent="pubsub",
    group=PS,
    summary="Get the count of subscribers for shard channels",
    since="7.0.0",
    complexity="O(N) for the SHARDNUMSUB subcommand, where N is the number of requested shard "
    "channels",
    args="[shardchannel [shardchannel ...]]",
)
def pubsub_shardnumsub(c: Context, args: list[bytes]) -> Any:
    hub = c.server.pubsub
    return [x for ch in args[2:] for x in (ch, hub.numsub(ch, shard=True))]


@command(
    "numpat",
    2,
    _INTROSPECTION,
    parent="pubsub",
    group=PS,
    summary="Get the count of unique patterns pattern subscriptions",
    since="2.8.0",
    complexity="O(1)",
)
def pubsub_numpat(c: Context, args: list[bytes]) -> Any:
    return len(c.server.pubsub.patterns)


@command(
    "help",
    2,
    "loading stale",
    parent="pubsub",
    group=PS,
    summary="Show helpful text about the different subcommands",
    since="6.2.0",
    complexity="O(1)",
)
def pubsub_help(c: Context, args: list[bytes]) -> Any:
    return help_reply(
        args,
        [
            "CHANNELS [<pattern>]",
            "    Return the currently active channels matching a <pattern> (default: '*').",
            "NUMPAT",
            "    Return number of subscriptions to patterns.",
            "NUMSUB [<channel> ...]",
            "    Return the number of subscribers for the specified channels, excluding",
            "    pattern subscriptions(default: no channels).",
            "SHARDCHANNELS [<pattern>]",
            "    Return the currently active shard level channels matching a <pattern> "
            "(default: '*').",
            "SHARDNUMSUB [<shardchannel> ...]",
            "    Return the number of subscribers for the specified shard level channel(s)",
        ],
    )
