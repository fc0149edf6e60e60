/**
 * The `stoop` usage text, one block per command: `stoop --help` prints them
 * all, `stoop <command> --help` its own. The flags are a public interface
 * (README.md, "A room from the terminal"): add, do not rename.
 */
import { homedir } from 'node:os'
import { join } from 'node:path'
import { DEFAULT_LIMITS } from '../net/topology.ts'

export const DEFAULT_KEY = join(homedir(), '.stoop', 'identity.key')

export const RELAY_USAGE = `  stoop relay [options]
      Serves the app, WebSocket signalling (/signal), the audio relay (/relay),
      /healthz and /metrics. Every option also reads an environment variable.
      --port N             HTTP port (STOOP_PORT, default 8787)
      --host ADDR          listen address (STOOP_HOST, default 127.0.0.1; 0.0.0.0 for all)
      --data DIR           keep room logs here across restarts (STOOP_DATA)
      --max-rooms N        rooms served at once (STOOP_MAX_ROOMS, default 100)
      --max-listeners N    listeners per room (STOOP_MAX_LISTENERS, default 500)
      --public-url URL     the address clients reach this relay at (STOOP_PUBLIC_URL),
                           when behind a proxy that rewrites Host
      --udp-ports MIN-MAX  UDP port range for relayed audio (STOOP_UDP_PORTS)
      --stun-port N        answer STUN on this UDP port, so clients behind NAT learn their
                           public address (STOOP_STUN_PORT, default 3478; 0 turns it off)
      --workers N          forwarding threads: N > 1 spreads every room's listeners over N
                           worker threads, one per core (STOOP_WORKERS, default 1: forward
                           in the main thread)
      --swarm              find the other relays serving the same rooms on hyperswarm
                           and cascade with them (STOOP_SWARM=1; needs --bootstrap)
      --bootstrap H:P,...  hyperswarm bootstrap nodes (STOOP_BOOTSTRAP)
      --log-level LEVEL    debug|info|warn|error (STOOP_LOG_LEVEL, default info)
      Limits (each also STOOP_ and the name in capitals, e.g. STOOP_MAX_CONNS_PER_IP):
      --max-conns-per-ip N     connections from one address (default 100)
      --max-rooms-per-ip N     rooms the connections from one address may be in (default 20)
      --conn-kib-per-sec N     bytes one connection may send, KiB/s (default 512)
      --conn-burst-mib N       ... and at once, MiB (default 10: a whole room log)
      --max-doc-mib N          entries one room log may hold, MiB (default 8)
      --max-total-doc-mib N    entries all loaded rooms may hold together, MiB (default 512)
      --presence-max-bytes N   one presence message (default 4096)
      --presence-per-sec N     presence messages per connection and second (default 10)
      --step1-burst N          sync requests per connection at once (default 4)
      --step1-per-min N        ... and per minute after that (default 6)
      --store-quota-mib N      room logs kept in --data, MiB; the least recently used
                               rooms not in use make way (default 1024)
      --room-expiry-days N     delete a stored room unused this long (default 30; 0: never)`

export const ROOM_CREATE_USAGE = `  stoop room create --title T [--topic T] [--key FILE] [--origin URL] [--json]
      Creates a room owned by the key in FILE (default ${DEFAULT_KEY}, created
      with mode 0600 if missing) and prints its moderator, speaker and listener links
      (--json: one object {roomId, moderator, speaker, listener}).`

/** Options `stoop peer` and `stoop mod` share: how the room is reached. */
const REACH_OPTIONS = `      --signal URL         signalling server (default: the link's host, /signal)
      --swarm              find peers on hyperswarm instead (needs --bootstrap)
      --bootstrap H:P,...  hyperswarm bootstrap nodes
      --ice-loopback       only use 127.0.0.1/::1 ICE candidates (single-machine use)`

export const PEER_USAGE = `  stoop peer <invite-link> [options]
      Joins a room as a headless participant.
${REACH_OPTIONS}
      --name NAME          display name
      --speak tone:440     send a sine tone while on stage (or --speak file.wav)
      --record out.wav     record what this peer hears (speakers, mixed), only while the room shows
                           a recording: with a moderator's key it announces one (and stops it when
                           it leaves), otherwise it waits until a moderator starts one
      --say TEXT           send a chat message once joined (at most 500 characters)
      --react EMOJI        send a reaction once joined, shown briefly on this peer's tile:
                           👏 😂 ❤️ 🔥 👍 🙌 😮 or its name (applause, laughing, love, fire,
                           thumbs up, raised hands, surprised); anything else: exit 2
      --raise-hand         raise a hand after joining
      --invite-hands       as a moderator, invite everyone who raises a hand to the stage
      --duration SECONDS   leave after this long
      --key FILE           identity key file (default: a fresh key each run)
      --relay URL          relay (SFU) for rooms past mesh size (default: the link's host, /relay);
                           repeat it or separate URLs by commas: the next is used when one fails
      --no-relay           never use a relay
      --mesh-size N        largest room kept as a direct mesh (default ${DEFAULT_LIMITS.meshSize})
      --ice URL            STUN/TURN server (stun:host:port, turn:user:pass@host:port?transport=tcp),
                           repeatable; replaces the default, the relay's own STUN (--ice none: no server)
      --media werift|wrtc  WebRTC implementation (default werift: Opus encoded here, per frame, so it
                           can be end-to-end encrypted); wrtc is libwebrtc, unencrypted only
      --e2ee on|off        end-to-end encrypt audio (SFrame; default on with werift, off with wrtc,
                           which cannot); peers with it off and on do not hear each other
      --json               one JSON line per event on stdout (chat, reaction, muted, unmuted,
                           kicked, recording among them: see the README)
      A moderator's mute stops this peer's audio (event muted); a kick ends it.
      Exit: 0 stopped (--duration, SIGINT/SIGTERM), 1 failed, 2 bad usage (unknown option...),
      3 a moderator banned this key ("stoop: a moderator removed you from this room"),
      4 the link was replaced (the room rotated its key; ask a moderator for a new link),
      5 a moderator kicked this key for a while ("stoop: a moderator removed you from this
      room until <time>"; the relay and the members refuse it until then, and a peer
      coming back before then ends the same way).`

export const MOD_USAGE = `  stoop mod <link> [options] <action> [ID]
      Moderates a room from the terminal: joins it (no audio), waits until its state
      has synced, does one thing signed by the key, waits until it reached a member
      or the relay, and exits. ID: a participant id, or a unique prefix of one.
        state              print the room: stage, audience present, hands, moderators, bans
        invite ID          invite to the stage
        move ID            move from the stage to the audience
        ban ID | unban ID  ban from the room (the relay cuts the key off too; the room
                           rotates to a new epoch, old links are replaced) / lift it
        revoke ID          revoke a moderator (owner only)
        links              mint links of the current epoch: moderator (owner only), speaker, listener
        end                end the room (owner only)
        rotate             start a new epoch (a leaked link): prints the new links
        mute ID            mute a speaker (its audio stops; it may unmute itself 10 s later)
        kick ID --for S    remove from the room for S seconds, no ban and no new links
                           (not the owner or a moderator); its peer exits with code 5
        record on|off      announce that a recording starts / stops (everyone sees it)
        hide MSGID         hide a chat message for everyone (state lists message ids)
        transfer ID        hand the room to a moderator (owner only); the old owner keeps
                           no power (the new owner can make it a moderator)
      --key FILE           identity key file (default ${DEFAULT_KEY}: the owner's
                           key if it created the room; a moderator link makes it a moderator)
      --json               one JSON object on stdout with the result ({"ok":false,...} on failure)
      --relay URL          relay to sync the room log with (default: the link's host, /relay)
      --no-relay           reach members over the mesh only
      --timeout SECONDS    give up when nobody answered within this (default 15)
      --for SECONDS        how long a kick lasts (kick only; at most 7 days)
${REACH_OPTIONS}
      Exit: 0 done, 1 failed (not allowed, unknown or ambiguous ID, nobody reachable),
      2 bad usage (missing or unknown action, missing ID, unknown option),
      3 this key is banned, 4 its link was replaced.`

export const USAGE = `Usage:
${RELAY_USAGE}
${ROOM_CREATE_USAGE}
${PEER_USAGE}
${MOD_USAGE}
  Environment: STOOP_PORT, STOOP_HOST, STOOP_LOG_LEVEL, STOOP_ORIGIN (room create).`

/** `Usage:` and one command's block. */
export function usageOf(block: string): string {
  return `Usage:\n${block}`
}

/** Whether the arguments ask for help (before any other parsing, so `--help` always works). */
export function wantsHelp(args: readonly string[]): boolean {
  return args.includes('--help') || args.includes('-h')
}
