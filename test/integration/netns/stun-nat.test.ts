/**
 * The relay's STUN behind real NATs (network namespaces, see lab.ts): `stoop relay` answers
 * STUN by default, a wrtc peer behind a home router gathers its server-reflexive candidate
 * (the router's public address) from it, and the lab's two NAT kinds behave as named: the
 * cone router keeps one mapping for every destination, the symmetric one does not.
 */
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ADDR, createLab, labUnavailable, type Lab } from './lab.ts'
import { relayReady, startLabRelay, type LabProc } from './procs.ts'

const PROBE = fileURLToPath(new URL('./probe-main.ts', import.meta.url))
const ROOT = fileURLToPath(new URL('../../../', import.meta.url))
const skip = await labUnavailable()

describe.skipIf(skip !== null)(`STUN through NAT${skip ? ` (skipped: ${skip})` : ''}`, () => {
  let lab: Lab
  const relays: LabProc[] = []
  beforeAll(async () => {
    lab = await createLab({ A: 'cone', B: 'symmetric' })
    // The default relay (STUN on UDP 3478 without asking) and a second one for the mapping test.
    relays.push(startLabRelay(lab), startLabRelay(lab, ['--port', '8788', '--stun-port', '3479']))
    await Promise.all([relayReady(lab, 8787), relayReady(lab, 8788)])
  }, 60_000)
  afterAll(async () => {
    await Promise.all(relays.map((r) => r.stop()))
    await lab?.destroy()
  })

  const probe = async (where: 'homeA' | 'homeB', args: string[]) =>
    JSON.parse(await lab.exec(where, ['sh', '-c', `cd '${ROOT}' && exec '${process.execPath}' --import tsx '${PROBE}' ${args.map((a) => `'${a}'`).join(' ')}`])) as Record<string, unknown>

  it('a wrtc peer behind a home router gathers its public address (srflx) from the relay', async () => {
    const { candidates, srflxMs } = (await probe('homeA', ['gather', `stun:${ADDR.relay}:3478`])) as { candidates: string[]; srflxMs: number }
    const srflx = candidates.filter((c) => / typ srflx /.test(c))
    expect(srflx.length, candidates.join('\n')).toBeGreaterThan(0)
    expect(srflx[0]).toContain(` ${ADDR.wanA} `)
    expect(srflx[0]).toMatch(new RegExp(`raddr ${ADDR.homeA.replace(/\./g, '\\.')} `))
    console.info(`srflx gathered from the relay's STUN in ${srflxMs} ms`)
  })

  it('the cone NAT maps one socket to one public port for every destination; the symmetric NAT does not', async () => {
    const targets = [`${ADDR.relay}:3478`, `${ADDR.relay}:3479`]
    const cone = (await probe('homeA', ['stun', ...targets])) as { local: number; mapped: Array<{ address: string; port: number }> }
    expect(cone.mapped.map((m) => m.address)).toEqual([ADDR.wanA, ADDR.wanA])
    expect(cone.mapped[0]!.port).toBe(cone.mapped[1]!.port)
    const sym = (await probe('homeB', ['stun', ...targets])) as { local: number; mapped: Array<{ address: string; port: number }> }
    expect(sym.mapped.map((m) => m.address)).toEqual([ADDR.wanB, ADDR.wanB])
    expect(sym.mapped[0]!.port).not.toBe(sym.mapped[1]!.port)
  })
})
