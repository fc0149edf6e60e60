/**
 * A Peer's remote ICE candidates: filtered by the caller's `acceptCandidate`, buffered
 * (bounded) while no remote description is set, and added without letting a bad one take
 * the connection down. Kept apart from peer.ts, which runs these steps on its queue.
 */
import type { CandidateSignal } from './peer-signal.ts'
import type { PeerCounters } from './peer-api.ts'
import { filterSdpCandidates } from './ice.ts'

const MAX_PENDING_CANDIDATES = 256

export class RemoteCandidates {
  #pending: RTCIceCandidateInit[] = []

  constructor(
    private readonly pc: RTCPeerConnection,
    private readonly counters: PeerCounters,
    private readonly accept: ((candidate: string) => boolean) | undefined,
  ) {}

  async receive(sig: CandidateSignal): Promise<void> {
    if (sig.candidate !== '' && this.accept && !this.accept(sig.candidate)) {
      this.counters.filteredCandidates++
      return
    }
    const init: RTCIceCandidateInit = { candidate: sig.candidate }
    if (sig.sdpMid !== null) init.sdpMid = sig.sdpMid
    if (sig.sdpMLineIndex !== null) init.sdpMLineIndex = sig.sdpMLineIndex
    if (sig.usernameFragment !== null) init.usernameFragment = sig.usernameFragment
    if (!this.pc.remoteDescription) {
      if (this.#pending.length < MAX_PENDING_CANDIDATES) this.#pending.push(init)
      else this.counters.failedCandidates++
      return
    }
    await this.#add(init)
  }

  /**
   * A remote description with the candidates `accept` refuses taken out: a non-trickle peer, or
   * a browser answering after it gathered, puts them in the SDP, where the trickle filter never
   * sees them.
   */
  filterSdp(sdp: string): string {
    const accept = this.accept
    if (!accept) return sdp
    return filterSdpCandidates((c) => {
      const ok = accept(c)
      if (!ok) this.counters.filteredCandidates++
      return ok
    })(sdp)
  }

  /** Adds what was buffered, once a remote description is set. */
  async flush(): Promise<void> {
    const pending = this.#pending
    this.#pending = []
    for (const c of pending) await this.#add(c)
  }

  clear(): void {
    this.#pending = []
  }

  async #add(init: RTCIceCandidateInit): Promise<void> {
    try {
      await this.pc.addIceCandidate(init)
    } catch (err) {
      // Expected for candidates of an offer we ignored or of a superseded ICE generation; a bad
      // candidate must not take the connection down, so count it and carry on.
      this.counters.failedCandidates++
      void err
    }
  }
}
