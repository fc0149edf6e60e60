/**
 * Speaking levels as the room shows them: this person's microphone level (published in
 * presence, so others see it without audio, e.g. a speaker heard through the relay) and
 * the level of every remote voice that may be played. Levels are quantized to 0.05 so a
 * change is a change worth a new snapshot and a presence update, not analyser noise.
 */
export function quantize(level: number): number {
  return Math.round(level * 20) / 20
}

export function sameLevels(a: ReadonlyMap<string, number>, b: ReadonlyMap<string, number>): boolean {
  if (a.size !== b.size) return false
  for (const [k, v] of a) if (b.get(k) !== v) return false
  return true
}

export interface LevelSources {
  selfId: string
  /** 0..1 level of this person's microphone (0 when muted or closed). */
  self: () => number
  /** 0..1 level per participant whose audio may be played now. */
  remote: () => Map<string, number>
  /** Publishes this person's level (presence). */
  publish: (level: number) => void
}

export class LevelSampler {
  readonly #src: LevelSources
  #levels: Map<string, number> = new Map()
  #self = 0

  constructor(src: LevelSources) {
    this.#src = src
  }

  get levels(): ReadonlyMap<string, number> {
    return this.#levels
  }

  /** Takes one reading; returns whether the shown levels changed. */
  sample(): boolean {
    const self = quantize(this.#src.self())
    if (self !== this.#self) {
      this.#self = self
      this.#src.publish(self)
    }
    const next = new Map<string, number>()
    for (const [id, level] of this.#src.remote()) next.set(id, quantize(level))
    if (self > 0) next.set(this.#src.selfId, self)
    if (sameLevels(next, this.#levels)) return false
    this.#levels = next
    return true
  }

  /** A peer went away: its level goes with it. */
  forget(id: string): void {
    this.#levels.delete(id)
  }
}
