/**
 * Opening and leaving one room link. States: opening -> open | failed.
 * Leaving (or navigating away) closes the session exactly once, including
 * when the user leaves before `openRoom` resolved.
 */
import type { RoomProblem } from '../../app/types.ts'
import type { UiDeps } from '../deps.ts'
import { Cell } from './cell.ts'
import { problemFromError } from './problems.ts'
import { RoomView } from './room-view.ts'

export type RoomPhase =
  | { kind: 'opening' }
  | { kind: 'open'; view: RoomView }
  | { kind: 'failed'; problem: RoomProblem }

export class RoomController {
  readonly #deps: Pick<UiDeps, 'openRoom' | 'parseLink'>
  readonly #link: string
  readonly #state = new Cell<RoomPhase>({ kind: 'opening' })
  #closed = false
  #attempt = 0

  constructor(deps: Pick<UiDeps, 'openRoom' | 'parseLink'>, link: string) {
    this.#deps = deps
    this.#link = link
  }

  get state(): RoomPhase {
    return this.#state.current
  }

  async open(): Promise<void> {
    const attempt = ++this.#attempt
    const previous = this.#state.peek()
    this.#state.set({ kind: 'opening' })
    // "Try again" on a problem shown inside an open room: leave that session before opening anew.
    if (previous.kind === 'open') {
      previous.view.destroy()
      await previous.view.session.leave().catch((err: unknown) => console.warn('leaving the room failed', err))
      if (this.#closed || attempt !== this.#attempt) return
    }
    let check
    try {
      check = this.#deps.parseLink(this.#link)
    } catch (err) {
      check = { ok: false as const, message: problemFromError(err).message }
    }
    if (!check.ok) {
      this.#state.set({ kind: 'failed', problem: { code: 'bad-link', message: check.message } })
      return
    }
    try {
      const session = await this.#deps.openRoom(this.#link)
      if (this.#closed || attempt !== this.#attempt) {
        await session.leave()
        return
      }
      this.#state.set({ kind: 'open', view: new RoomView(session) })
    } catch (err) {
      if (!this.#closed && attempt === this.#attempt) this.#state.set({ kind: 'failed', problem: problemFromError(err) })
    }
  }

  /** Leaves the room (idempotent). Errors while leaving are reported, not thrown. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    const state = this.#state.peek()
    if (state.kind !== 'open') return
    state.view.destroy()
    try {
      await state.view.session.leave()
    } catch (err) {
      console.warn('leaving the room failed', err)
    }
  }
}
