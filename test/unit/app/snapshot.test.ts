import { describe, expect, it } from 'vitest'
import { randomBytes } from '../../../src/identity/index.ts'
import { buildSnapshot, type LiveInput } from '../../../src/app/snapshot.ts'
import { identities, kid, RoomBuilder } from '../room/helpers.ts'

function live(selfId: string, patch: Partial<LiveInput> = {}): LiveInput {
  return {
    selfId,
    selfName: 'Me',
    present: new Set(),
    names: new Map(),
    levels: new Map(),
    fingerprintOf: (id) => id.slice(0, 4),
    mode: 'mesh',
    peers: [],
    refused: {},
    audioBlocked: false,
    ...patch,
  }
}

describe('buildSnapshot', () => {
  it('lists the stage in order, present listeners and raised hands; hides absent listeners and the banned', async () => {
    const [owner, speaker, here, handUp, gone, banned, self] = await identities(7)
    const b = await RoomBuilder.create(owner!, 'Porch')
    await b.add(owner!, { kind: 'profile', seq: 1, name: b.text(owner!, 'name', 'Ana'), muted: false })
    await b.seat(owner!)
    await b.seat(speaker!)
    await b.add(speaker!, { kind: 'profile', seq: 1, name: b.text(speaker!, 'name', 'Sam'), muted: true })
    await b.add(handUp!, { kind: 'raise', nonce: randomBytes(16) })
    await b.add(gone!, { kind: 'profile', seq: 1, name: b.text(gone!, 'name', 'Gone'), muted: false })
    await b.add(owner!, { kind: 'ban', auth: b.genesisId, subject: kid(banned!) })
    const invite = await b.add(owner!, { kind: 'invite', auth: b.genesisId, subject: kid(self!) })
    const state = b.state()

    const snap = buildSnapshot(
      state,
      live(kid(self!), {
        present: new Set([kid(owner!), kid(here!), kid(banned!)]),
        names: new Map([[kid(here!), 'Hal']]),
        levels: new Map([[kid(owner!), 0.6], [kid(speaker!), 0.9]]),
      }),
    )
    expect(snap.title).toBe('Porch')
    expect(snap.stage.map((p) => p.name)).toEqual(['Ana', 'Sam'])
    expect(snap.stage.map((p) => p.present)).toEqual([true, false])
    // A muted speaker shows no level whatever was measured.
    expect(snap.stage.map((p) => p.level)).toEqual([0.6, 0])
    expect(snap.stage[0]!.role).toBe('owner')
    expect(snap.audience.map((p) => p.id)).toEqual([kid(self!), kid(here!), kid(handUp!)])
    expect(snap.audience[1]!.name).toBe('Hal')
    expect(snap.hands.map((p) => p.id)).toEqual([kid(handUp!)])
    expect(snap.hands[0]!.handRaisedAt).toBeGreaterThan(0)
    expect(snap.pendingInvite).toEqual({ id: invite, fromName: 'Ana' })
    expect(snap.self).toMatchObject({ name: 'Me', role: 'listener', canModerate: false, isOwner: false, present: true })
    expect(JSON.stringify(snap)).not.toContain(kid(banned!))
    expect(JSON.stringify(snap)).not.toContain(kid(gone!))
  })

  it('gives the owner moderation rights, merges refused counts and carries mode and problem', async () => {
    const [owner] = await identities(1)
    const b = await RoomBuilder.create(owner!)
    await b.seat(owner!)
    const snap = buildSnapshot(
      b.state(),
      live(kid(owner!), { selfMuted: true, refused: { oversize: 2 }, mode: 'offline', problem: { code: 'offline', message: 'x' } }),
    )
    expect(snap.self).toMatchObject({ isOwner: true, canModerate: true, onStage: true, muted: true })
    expect(snap.rejected).toEqual({ 'refused: oversize': 2 })
    expect(snap.mode).toBe('offline')
    expect(snap.problem?.code).toBe('offline')
    expect(snap.audience).toEqual([])
  })
})
