// The synchronization rules table replayed through the uploader, as CMS's
// acceptance test of its upload service replays them
// (cms-sw/cmssw CondCore/Utilities/scripts/conditionUploadTest.py): requests
// over the real local Kafka, payload files written by the project's own
// deploy/workflows/scripts/write_payload.py, the local CondDB a real SQLite
// file with CMSSW's schema, read back with python3's sqlite3 (not our code).
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Outcome } from '@autocal/contracts'
import { openSqlite } from '../../src/adapters/sqlite-handles.ts'
import { realSchemaStatements } from '../helpers/conddb-files.ts'
import { readWithPython } from '../helpers/fixtures.ts'
import { startHarness, type Harness } from '../helpers/harness.ts'

const writePayload = new URL('../../../../deploy/workflows/scripts/write_payload.py', import.meta.url).pathname
const FCSR = 367000

let dir: string
let h: Harness
before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'uploader-sync-'))
  h = await startHarness(join(dir, 'data'))
  await h.sendFcsr(FCSR)
})
after(async () => {
  await h[Symbol.asyncDispose]()
  rmSync(dir, { recursive: true, force: true })
})

let n = 0
/** A payload file written by write_payload.py: one Run IOV at `since`; `variant` changes the payload (its inputs). */
function payloadFile (tag: string, since: number, variant = ''): string {
  const out = join(dir, 'jobs', `job-${++n}`)
  mkdirSync(out, { recursive: true })
  const inputs: string[] = []
  if (variant !== '') {
    writeFileSync(join(out, 'input.txt'), variant)
    inputs.push('--inputs', join(out, 'input.txt'))
  }
  const r = spawnSync('python3', [writePayload, '--object-type', 'EcalPedestals', '--tag', tag, '--since', String(since), '--out', join(out, 'payload.db'), ...inputs], { encoding: 'utf8' })
  assert.equal(r.status, 0, r.stderr)
  return join(out, 'payload.db')
}

interface Step {
  /** The since asked for. */
  since: number
  /** The file's IOV since (default: the asked since). */
  fileSince?: number
  variant?: string
  /** UPLOADED at a since, SKIPPED, or REJECTED by a rule. */
  want: { uploaded: number } | 'skipped' | { rejected: RegExp }
}

/** Sends a tag's steps in order (one partition: handled in that order) and checks each outcome. */
async function replay (tag: string, synchronization: string, steps: Step[]): Promise<void> {
  const ids: string[] = []
  for (const [i, s] of steps.entries()) {
    const id = `sync/${tag}/${i}`
    ids.push(id)
    await h.send({ requestId: id, payloadFile: payloadFile('write_payload_tag', s.fileSince ?? s.since, s.variant), inputTag: 'write_payload_tag', destinationTag: tag, synchronization, since: BigInt(s.since) })
  }
  for (const [i, s] of steps.entries()) {
    const [event] = await h.outcomeOf(ids[i]!)
    const what = `${tag} step ${i} (since ${s.since}): ${event?.reason}`
    if (s.want === 'skipped') assert.equal(event?.outcome, Outcome.SKIPPED, what)
    else if ('uploaded' in s.want) {
      assert.equal(event?.outcome, Outcome.UPLOADED, what)
      assert.equal(event.since, BigInt(s.want.uploaded), what)
    } else {
      assert.equal(event?.outcome, Outcome.REJECTED, what)
      assert.match(event.reason, s.want.rejected, what)
    }
  }
}

const sincesOf = (tag: string): string[] => readWithPython(join(dir, 'data', 'conddb.sqlite')).iovs.filter(i => i.TAG_NAME === tag).map(i => i.SINCE)

test('payload files of write_payload.py and the local CondDB both have the CREATE statements of a CMSSW-written file', async () => {
  const file = payloadFile('write_payload_tag', 1)
  const schemaOf = (path: string): string[] => {
    const db = openSqlite(path, { readonly: true })
    try {
      return (db.prepare('SELECT sql FROM sqlite_master WHERE type = \'table\' ORDER BY rowid').all() as Array<{ sql: string }>).map(r => r.sql)
    } finally {
      db.close()
    }
  }
  assert.deepEqual(schemaOf(file), realSchemaStatements())
  await replay('Schema_any', 'any', [{ since: 1, want: { uploaded: 1 } }])
  assert.deepEqual(schemaOf(join(dir, 'data', 'conddb.sqlite')), realSchemaStatements())
})

test('any and validation: since before the file\'s first IOV refused; append, insert below and at the last since', async () => {
  for (const sync of ['any', 'validation']) {
    const tag = `Sync_${sync}`
    await replay(tag, sync, [
      { since: 1, fileSince: 100, want: { rejected: /^before-first-iov: requested since 1 of .* tag 'Sync_.*' is before the first IOV 100 of the payload file/ } },
      { since: 1, want: { uploaded: 1 } },
      { since: 200, want: { uploaded: 200 } },
      { since: 100, want: { uploaded: 100 } },
      { since: 200, variant: 'another payload', want: { uploaded: 200 } },
      { since: 200, variant: 'another payload', want: 'skipped' } // the same IOV again: never appended twice
    ])
    assert.deepEqual(sincesOf(tag), ['1', '200', '100', '200'], sync)
  }
})

test('mc: only the upload that creates the tag; every later one refused', async () => {
  await replay('Sync_mc', 'mc', [
    { since: 1, fileSince: 100, want: { rejected: /^before-first-iov: / } },
    { since: 1, want: { uploaded: 1 } },
    { since: 1, variant: 'again', want: { rejected: /^write-once: since 1: mc tag 'Sync_mc' already exists \(last since 1\)/ } },
    { since: 200, want: { rejected: /^write-once: since 200: mc tag 'Sync_mc' already exists/ } }
  ])
  assert.deepEqual(sincesOf('Sync_mc'), ['1'])
})

test('offline and runmc: only appends, whatever the FCSR (1000 → 500 and 1000 again refused)', async () => {
  for (const sync of ['offline', 'runmc']) {
    const tag = `Sync_${sync}`
    await replay(tag, sync, [
      { since: 1, want: { uploaded: 1 } },
      { since: 1000, want: { uploaded: 1000 } },
      { since: 500, want: { rejected: new RegExp(`^append-only: since 500 of ${sync} tag '${tag}' is not after its last since 1000: an? ${sync} tag only takes appends`) } },
      { since: 1000, want: { rejected: /^append-only: since 1000 .* is not after its last since 1000/ } },
      { since: 2000, want: { uploaded: 2000 } }
    ])
    assert.deepEqual(sincesOf(tag), ['1', '1000', '2000'], sync)
  }
})

test('hlt, express and prompt: below the FCSR moved up to it; at or above it appended or inserted', async () => {
  for (const sync of ['hlt', 'express', 'prompt']) {
    const tag = `Sync_${sync}`
    await replay(tag, sync, [
      { since: 200, want: { uploaded: FCSR } },
      { since: 100, want: { uploaded: FCSR } },
      { since: FCSR + 200, want: { uploaded: FCSR + 200 } },
      { since: FCSR + 100, want: { uploaded: FCSR + 100 } }
    ])
    assert.deepEqual(sincesOf(tag), [String(FCSR), String(FCSR), String(FCSR + 200), String(FCSR + 100)], sync)
  }
  const [moved] = await h.outcomeOf('sync/Sync_prompt/0')
  assert.equal(moved?.requestedSince, 200n)
  assert.match(moved.reason, /since 200 moved forward to the first condition-safe run 367000/)
})

test('pcl: below the FCSR refused (never moved); at or above it appended or inserted', async () => {
  await replay('Sync_pcl', 'pcl', [
    { since: 200, want: { rejected: /^fcsr: since 200 of pcl tag 'Sync_pcl' is before the first condition-safe run 367000: a pcl tag refuses it/ } },
    { since: FCSR + 200, want: { uploaded: FCSR + 200 } },
    { since: FCSR - 1, want: { rejected: /^fcsr: since 366999 of pcl tag/ } },
    { since: FCSR + 100, want: { uploaded: FCSR + 100 } }
  ])
  assert.deepEqual(sincesOf('Sync_pcl'), [String(FCSR + 200), String(FCSR + 100)])
  const py = readWithPython(join(dir, 'data', 'conddb.sqlite'))
  assert.equal(py.tags.find(t => t.NAME === 'Sync_pcl')?.SYNCHRONIZATION, 'pcl')
  assert.ok(py.payloads.every(p => p.SHA1 === p.HASH), 'python recomputes every payload hash')
})
