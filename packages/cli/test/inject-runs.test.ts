import { test } from 'node:test'
import { execFileSync } from 'node:child_process'
import assert from 'node:assert/strict'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { InjectUsageError, injectRunsOf, maxRunListBytes, parseRunList, readRunList } from '../src/inject-runs.ts'

test('a run-list file: runs, ranges, comments and blank lines', () => {
  const table: Array<[string, ReturnType<typeof parseRunList>]> = [
    ['355100\n355101\n', { runs: [355100, 355101], ranges: [] }],
    ['# header\n\n355100-355120\n', { runs: [], ranges: [{ firstRun: 355100, lastRun: 355120 }] }],
    ['355100 - 355120  # spaces around the dash\r\n355200 # trailing comment\n', { runs: [355200], ranges: [{ firstRun: 355100, lastRun: 355120 }] }],
    ['  355100  \n', { runs: [355100], ranges: [] }]
  ]
  for (const [text, want] of table) assert.deepEqual(parseRunList(text, 'runs.txt'), want, JSON.stringify(text))
})

test('a bad line of a run-list file is named with file and line', () => {
  const table: Array<[string, RegExp]> = [
    ['355100\nabc\n', /^runs\.txt:2: expected a run number or a range FIRST-LAST, got "abc"$/],
    ['355100,355101\n', /^runs\.txt:1: expected a run number or a range FIRST-LAST, got "355100,355101"$/],
    ['# c\n355120-355100\n', /^runs\.txt:2: range 355120-355100: the first run is after the last$/],
    ['0\n', /^runs\.txt:1: run 0 is out of range/],
    ['4294967296\n', /^runs\.txt:1: run 4294967296 is out of range/],
    ['355100-\n', /^runs\.txt:1: expected a run number/],
    ['# only comments\n\n', /^runs\.txt: no run in the file/]
  ]
  for (const [text, want] of table) {
    assert.throws(() => parseRunList(text, 'runs.txt'), (err: unknown) => err instanceof InjectUsageError && want.test(err.message), JSON.stringify(text))
  }
})

test('the options make one InjectRuns: runs, range, eras and the file together; nothing given, a bad era or an unreadable file is a usage error', () => {
  const dir = mkdtempSync(join(tmpdir(), 'autocal-inject-'))
  const file = join(dir, 'runs.txt')
  writeFileSync(file, '355300\n355400-355410\n')
  assert.deepEqual(injectRunsOf({ runs: [1], range: [5, 6], era: 'Run2022C, Run2022D', runsFile: file }), {
    runs: [1, 355300], firstRun: 5, lastRun: 6, ranges: [{ firstRun: 355400, lastRun: 355410 }], eras: ['Run2022C', 'Run2022D']
  })
  assert.throws(() => injectRunsOf({ runs: [], range: [0, 0] }), /inject needs --runs, --range, --era or --runs-file/)
  assert.throws(() => injectRunsOf({ runs: [], range: [0, 0], era: '../x' }), /^Error: --era: era "\.\.\/x" is not a valid name|--era: era "\.\.\/x"/)
  assert.throws(() => injectRunsOf({ runs: [], range: [0, 0], runsFile: join(dir, 'missing.txt') }), /--runs-file .*missing\.txt: cannot read it \(ENOENT\)/)
})

test('a run-list path that is not a regular file of bounded size is refused at once, naming it (no endless read of a device or pipe)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'runs-file-'))
  const big = join(dir, 'big.txt')
  writeFileSync(big, '355100\n'.repeat(Math.ceil((maxRunListBytes + 1) / 7)))
  const fifo = join(dir, 'pipe')
  execFileSync('mkfifo', [fifo])
  const table: Array<[string, RegExp]> = [
    ['/dev/zero', /^--runs-file \/dev\/zero: not a regular file \(a character device\)$/],
    [fifo, /: not a regular file \(a FIFO\)$/],
    [dir, /: not a regular file \(a directory\)$/],
    [big, /big\.txt: \d+ bytes, more than the 1048576 bytes a run list may have$/]
  ]
  for (const [file, want] of table) assert.throws(() => readRunList(file), (err: unknown) => err instanceof InjectUsageError && want.test(err.message), file)
})
