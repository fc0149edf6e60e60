/**
 * A werift RTCPeerConnection that behaves like libwebrtc's where the mesh `Peer` and the relay
 * client rely on it (the audio config of werift-audio.ts, with `base` for ICE addresses and ports):
 * - Offers and answers are werift's own: werift refuses a description that differs from the
 *   one it created, so an edited one (opus.ts's fmtp munging) is replaced by the original,
 *   which already carries the same voice settings (`weriftOpus()`).
 * - ICE roles stay as the first exchange set them; werift would flip them on renegotiation.
 * - A receiving track is announced ('track') once, and again only with another stream id or
 *   after its transceiver stopped receiving; werift fires it at every negotiation.
 */
import { RTCPeerConnection as WeriftPeerConnection, type MediaStream, type MediaStreamTrack, type RTCPeerConnectionConfig } from 'werift'
import { weriftAudioConfig } from './werift-audio.ts'

type Description = { type?: string; sdp?: string } | undefined
type TrackEvent = { track: MediaStreamTrack; streams: MediaStream[]; transceiver: object }

/** The class to pass as `RTCPeerConnection` (its constructor takes a standard RTCConfiguration). */
export function weriftPeerConnection(base: Partial<RTCPeerConnectionConfig>): new (config?: RTCConfiguration) => WeriftPeerConnection {
  return class PeerConnection extends WeriftPeerConnection {
    readonly #announced = new WeakMap<object, string>()
    #iceRoleSet = false
    #restarting = false
    constructor(config?: RTCConfiguration) {
      const iceServers = (config?.iceServers ?? []).map((s) => ({ ...s, urls: s.urls }))
      super(weriftAudioConfig({ ...base, iceServers: iceServers as RTCPeerConnectionConfig['iceServers'] }))
      const setLocal = this.setLocalDescription.bind(this) as (d?: Description) => Promise<unknown>
      const setRemote = this.setRemoteDescription.bind(this)
      const createOffer = this.createOffer.bind(this)
      this.createOffer = ((o?: { iceRestart?: boolean }) => {
        this.#restarting = o?.iceRestart === true
        return createOffer(o)
      }) as WeriftPeerConnection['createOffer']
      this.setLocalDescription = (async (d?: Description) => {
        const roles = this.#iceRoles()
        await setLocal(d?.type === 'offer' || d?.type === 'answer' ? { type: d.type } : d)
        if (d?.type !== 'rollback') roles?.()
        this.#settled()
      }) as WeriftPeerConnection['setLocalDescription']
      this.setRemoteDescription = (async (d: Parameters<typeof setRemote>[0]) => {
        await setRemote(d)
        this.#settled()
      }) as WeriftPeerConnection['setRemoteDescription']
      const emit = this.emit.bind(this)
      this.emit = ((event: string | symbol, ...args: unknown[]) => (event === 'track' && this.#repeated(args[0] as TrackEvent) ? false : emit(event, ...args))) as typeof this.emit
    }

    /**
     * werift makes itself ICE-controlling whenever it sets a local offer and controlled for an
     * answer, also on renegotiation; until a pair is nominated that flips the role the first
     * exchange set (RFC 8445 keeps it until an ICE restart), and a libwebrtc peer then waits in
     * "checking" forever (seen in about one mixed mesh connection in five). So after the first
     * exchange the roles are put back, unless this offer restarts ICE.
     */
    #iceRoles(): (() => void) | null {
      if (!this.#iceRoleSet || this.#restarting) return null
      const roles = this.iceTransports.map((t) => [t.connection, t.connection.iceControlling] as const)
      return () => {
        for (const [connection, controlling] of roles) connection.iceControlling = controlling
      }
    }

    #settled(): void {
      if (this.signalingState === 'stable') {
        this.#iceRoleSet = true
        this.#restarting = false
      }
      this.#forgetIdle()
    }

    /** werift announces every receiving track again at each negotiation; libwebrtc once. */
    #repeated(e: TrackEvent): boolean {
      const key = `${e.track.uuid} ${e.streams.map((s) => s.id).join(',')}`
      if (this.#announced.get(e.transceiver) === key) return true
      this.#announced.set(e.transceiver, key)
      return false
    }

    /** A transceiver that stopped receiving announces its track again when it resumes. */
    #forgetIdle(): void {
      for (const t of this.getTransceivers()) if (t.currentDirection !== 'recvonly' && t.currentDirection !== 'sendrecv') this.#announced.delete(t)
    }
  }
}
