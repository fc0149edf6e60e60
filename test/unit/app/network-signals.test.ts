/** The browser's signs of a network switch (src/app/network-signals.ts). */
import { describe, expect, it } from 'vitest'
import { watchBrowserNetwork } from '../../../src/app/network-signals.ts'

describe('watchBrowserNetwork', () => {
  it("'online' and navigator.connection 'change' are signs, 'offline' is not; stopping removes every listener", () => {
    const win = new EventTarget() as EventTarget & { navigator: { connection: EventTarget } }
    win.navigator = { connection: new EventTarget() }
    const signs: string[] = []
    const stop = watchBrowserNetwork(win as never, (reason) => signs.push(reason))
    win.dispatchEvent(new Event('offline'))
    win.dispatchEvent(new Event('online'))
    win.navigator.connection.dispatchEvent(new Event('change'))
    expect(signs).toEqual(['online', 'connection'])
    stop()
    win.dispatchEvent(new Event('online'))
    win.navigator.connection.dispatchEvent(new Event('change'))
    expect(signs).toHaveLength(2)
  })

  it('works without the Network Information API (Firefox, Safari)', () => {
    const win = new EventTarget()
    const signs: string[] = []
    const stop = watchBrowserNetwork(win as never, (reason) => signs.push(reason))
    win.dispatchEvent(new Event('online'))
    stop()
    expect(signs).toEqual(['online'])
  })
})
