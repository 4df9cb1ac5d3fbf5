// Every cell of the synchronization rules table (CMS's conditionUploadTest.py
// and CondDBFW uploads.py), one row per case: synchronization, the tag's
// state, the since, the FCSR → allowed at a since, or refused by a rule.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { lumiSince } from '../../src/domain/conddb-format.ts'
import { checkSynchronization, synchronizationRules, type SyncInput } from '../../src/domain/sync-rules.ts'
import { synchronizations } from '../../src/domain/conddb-format.ts'

const iov = (since: bigint) => ({ since, payloadHash: `h${since}` })
const FCSR = 367000n

interface Case {
  name: string
  sync: string
  since: bigint
  exists?: boolean
  last?: bigint
  fcsr?: bigint | undefined
  fileFirst?: bigint
  timeType?: string
  policy?: 'move' | 'reject'
  source?: 'tier0' | 'service'
  /** Expected: the first since written, or the rule that refuses. */
  want: bigint | { rule: string, reason: RegExp }
}

function run (c: Case) {
  const input: SyncInput<ReturnType<typeof iov>> = {
    tag: `T_${c.sync}`,
    synchronization: c.sync,
    timeType: c.timeType ?? 'Run',
    iovs: [iov(c.since)],
    requestedSince: c.since,
    fileFirstSince: c.fileFirst ?? 1n,
    destination: { exists: c.exists ?? c.last !== undefined, lastSince: c.last },
    fcsr: 'fcsr' in c ? c.fcsr : FCSR,
    fcsrSource: c.source ?? 'tier0',
    policy: c.policy ?? 'move',
    whenFcsrUnknown: 'accept'
  }
  return checkSynchronization(input)
}

const cases: Case[] = [
  // any, validation: no FCSR, insertion at or below the last since allowed
  ...['any', 'validation'].flatMap((sync): Case[] => [
    { name: `${sync}: CREATE at 1`, sync, since: 1n, want: 1n },
    { name: `${sync}: below the FCSR, no FCSR applies`, sync, since: 200n, last: 1n, want: 200n },
    { name: `${sync}: INSERT below the last since`, sync, since: 100n, last: 200n, want: 100n },
    { name: `${sync}: INSERT at the last since`, sync, since: 200n, last: 200n, want: 200n },
    { name: `${sync}: since before the file's first IOV`, sync, since: 1n, fileFirst: 100n, want: { rule: 'before-first-iov', reason: /requested since 1 of .* tag 'T_.*' is before the first IOV 100 of the payload file/ } }
  ]),
  // mc: write-once
  { name: 'mc: the upload that creates the tag', sync: 'mc', since: 1n, want: 1n },
  { name: 'mc: since before the file\'s first IOV, even when creating', sync: 'mc', since: 1n, fileFirst: 100n, want: { rule: 'before-first-iov', reason: /before the first IOV 100/ } },
  { name: 'mc: a later upload at the same since', sync: 'mc', since: 1n, last: 1n, want: { rule: 'write-once', reason: /mc tag 'T_mc' already exists \(last since 1\)/ } },
  { name: 'mc: a later upload after the last since', sync: 'mc', since: 200n, last: 1n, want: { rule: 'write-once', reason: /since 200: mc tag 'T_mc' already exists/ } },
  // runmc, offline: no FCSR, appends only
  ...['runmc', 'offline'].flatMap((sync): Case[] => [
    { name: `${sync}: CREATE at 1 (below the FCSR: none applies)`, sync, since: 1n, want: 1n },
    { name: `${sync}: APPEND 1000`, sync, since: 1000n, last: 1n, want: 1000n },
    { name: `${sync}: 500 below the last since`, sync, since: 500n, last: 1000n, want: { rule: 'append-only', reason: new RegExp(`since 500 of ${sync} tag 'T_${sync}' is not after its last since 1000`) } },
    { name: `${sync}: 1000 again`, sync, since: 1000n, last: 1000n, want: { rule: 'append-only', reason: /is not after its last since 1000/ } },
    { name: `${sync}: APPEND 2000`, sync, since: 2000n, last: 1000n, want: 2000n },
    { name: `${sync}: since before the file's first IOV`, sync, since: 5n, fileFirst: 10n, want: { rule: 'before-first-iov', reason: /before the first IOV 10/ } }
  ]),
  // hlt, express, prompt: moved up to the FCSR; insertion allowed at or above it
  ...['hlt', 'express', 'prompt'].flatMap((sync): Case[] => [
    { name: `${sync}: 200 SYNCHRONIZE to the FCSR`, sync, since: 200n, last: 1n, want: FCSR },
    { name: `${sync}: 100 SYNCHRONIZE to the FCSR`, sync, since: 100n, last: FCSR, want: FCSR },
    { name: `${sync}: APPEND FCSR+200`, sync, since: FCSR + 200n, last: FCSR, want: FCSR + 200n },
    { name: `${sync}: INSERT FCSR+100 below the last since`, sync, since: FCSR + 100n, last: FCSR + 200n, want: FCSR + 100n },
    { name: `${sync}: below the FCSR with policy reject`, sync, since: 200n, policy: 'reject', want: { rule: 'fcsr', reason: new RegExp(`since 200 of ${sync} tag 'T_${sync}' is before the first condition-safe run 367000 \\(FCSR policy reject\\)`) } },
    { name: `${sync}: since before the file's first IOV`, sync, since: FCSR + 1n, fileFirst: FCSR + 2n, want: { rule: 'before-first-iov', reason: /before the first IOV 367002/ } }
  ]),
  // pcl: refused below the FCSR whatever the policy; insertion allowed at or above it
  { name: 'pcl: 200 below the FCSR', sync: 'pcl', since: 200n, last: 1n, want: { rule: 'fcsr', reason: /since 200 of pcl tag 'T_pcl' is before the first condition-safe run 367000: a pcl tag refuses it/ } },
  { name: 'pcl: below the FCSR with policy move is still refused', sync: 'pcl', since: FCSR - 1n, policy: 'move', want: { rule: 'fcsr', reason: /366999 of pcl tag/ } },
  { name: 'pcl: at the FCSR', sync: 'pcl', since: FCSR, want: FCSR },
  { name: 'pcl: APPEND FCSR+200', sync: 'pcl', since: FCSR + 200n, last: FCSR, want: FCSR + 200n },
  { name: 'pcl: INSERT FCSR+100 below the last since', sync: 'pcl', since: FCSR + 100n, last: FCSR + 200n, want: FCSR + 100n },
  { name: 'pcl: since before the file\'s first IOV', sync: 'pcl', since: FCSR + 1n, fileFirst: FCSR + 5n, want: { rule: 'before-first-iov', reason: /before the first IOV 367005/ } },
  // Time tags have no FCSR
  ...['pcl', 'prompt'].map((sync): Case => ({ name: `${sync}: a Time tag has no FCSR`, sync, timeType: 'Time', since: 5n << 32n, want: 5n << 32n })),
  // Lumi tags compare (run << 32) | lumisection
  { name: 'prompt Lumi: lumisection 3 of the run before the FCSR run is moved to the FCSR', sync: 'prompt', timeType: 'Lumi', since: lumiSince(FCSR - 1n, 3), fcsr: lumiSince(FCSR, 1), want: lumiSince(FCSR, 1) },
  { name: 'pcl Lumi: lumisection 7 of the FCSR run is at or after it', sync: 'pcl', timeType: 'Lumi', since: lumiSince(FCSR, 7), fcsr: lumiSince(FCSR, 1), want: lumiSince(FCSR, 7) },
  { name: 'pcl Lumi: the run before the FCSR is refused', sync: 'pcl', timeType: 'Lumi', since: lumiSince(FCSR - 1n, 900), fcsr: lumiSince(FCSR, 1), want: { rule: 'fcsr', reason: /since 366999:900 of pcl tag 'T_pcl' is before the first condition-safe run 367000:1/ } },
  // the upload service's FCSR (uploads.py): offline refused below it, the others as from Tier-0
  { name: 'offline: below the service FCSR (uploads.py)', sync: 'offline', source: 'service', since: 10n, fcsr: 20n, want: { rule: 'fcsr', reason: /before the service's first condition-safe run 20: an offline tag cannot be uploaded below it/ } },
  { name: 'runmc: the service FCSR does not apply', sync: 'runmc', source: 'service', since: 10n, fcsr: 20n, want: 10n },
  { name: 'prompt: moved to the service FCSR', sync: 'prompt', source: 'service', since: 10n, fcsr: 20n, want: 20n },
  { name: 'pcl: refused below the service FCSR', sync: 'pcl', source: 'service', since: 10n, fcsr: 20n, want: { rule: 'fcsr', reason: /before the service's first condition-safe run 20: a pcl tag refuses it/ } },
  { name: 'an unknown synchronization', sync: 'nightly', since: 10n, want: { rule: 'synchronization', reason: /'nightly' of tag 'T_nightly' is not one of/ } }
]

test('the synchronization rules table, cell by cell', () => {
  for (const c of cases) {
    const d = run(c)
    if (typeof c.want === 'bigint') {
      assert.ok(d.kind === 'allowed', `${c.name}: ${d.kind === 'rejected' ? d.reason : ''}`)
      assert.equal(d.iovs[0]?.since, c.want, c.name)
    } else {
      assert.ok(d.kind === 'rejected', `${c.name}: expected refusal by ${c.want.rule}`)
      assert.equal(d.rule, c.want.rule, c.name)
      assert.match(d.reason, c.want.reason, c.name)
    }
  }
})

test('every synchronization has a row, and only hlt/express/prompt move while pcl refuses', () => {
  assert.deepEqual(Object.keys(synchronizationRules).sort(), [...synchronizations].sort())
  const moving = Object.entries(synchronizationRules).filter(([, r]) => r.belowFcsr === 'move').map(([s]) => s).sort()
  assert.deepEqual(moving, ['express', 'hlt', 'prompt'])
  assert.equal(synchronizationRules.pcl.belowFcsr, 'refuse')
})

test('a moved since records where it was and keeps the IOVs after the FCSR without a hole', () => {
  const d = checkSynchronization({
    tag: 'P',
    synchronization: 'prompt',
    timeType: 'Run',
    iovs: [iov(100n), iov(366990n), iov(367050n)],
    requestedSince: undefined,
    fileFirstSince: 100n,
    destination: undefined,
    fcsr: FCSR,
    fcsrSource: 'tier0',
    policy: 'move',
    whenFcsrUnknown: 'accept'
  })
  assert.ok(d.kind === 'allowed')
  assert.deepEqual(d.iovs.map(i => [i.since, i.payloadHash]), [[FCSR, 'h366990'], [367050n, 'h367050']])
  assert.equal(d.movedFrom, 100n)
  assert.match(d.notes.join('; '), /since 100 moved forward to the first condition-safe run 367000/)
})

test('an unknown FCSR: accepted with a note, or refused as configured; a tag state nobody knows leaves write-once and append-only to the service', () => {
  const base = { tag: 'P', timeType: 'Run', iovs: [iov(5n)], requestedSince: 5n, fileFirstSince: 1n, fcsr: undefined, fcsrSource: 'tier0' as const, policy: 'move' as const }
  const accepted = checkSynchronization({ ...base, synchronization: 'pcl', destination: undefined, whenFcsrUnknown: 'accept' })
  assert.ok(accepted.kind === 'allowed')
  assert.match(accepted.notes.join(), /no first condition-safe run known yet/)
  const refused = checkSynchronization({ ...base, synchronization: 'prompt', destination: undefined, whenFcsrUnknown: 'reject' })
  assert.ok(refused.kind === 'rejected' && refused.rule === 'fcsr')
  assert.equal(checkSynchronization({ ...base, synchronization: 'mc', destination: undefined, whenFcsrUnknown: 'reject' }).kind, 'allowed')
  assert.equal(checkSynchronization({ ...base, synchronization: 'offline', destination: undefined, whenFcsrUnknown: 'reject' }).kind, 'allowed')
})
