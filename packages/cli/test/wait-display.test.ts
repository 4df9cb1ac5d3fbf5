import { test } from 'node:test'
import assert from 'node:assert/strict'
import { PassThrough } from 'node:stream'
import { SingleBar } from 'cli-progress'
import { barOptions, createWaitDisplay, wantsBar } from '../src/wait-display.ts'

const sink = (isTTY: boolean) => ({ isTTY, write: (_s: string) => true })
const verdict = (finished: number, line: string) => ({ total: 4, finished, line })

for (const [name, stdoutTTY, stderrTTY, json, bar] of [
  ['a terminal gets a bar', true, true, false, true],
  ['--json on a terminal gets lines', true, true, true, false],
  ['stdout piped gets lines', false, true, false, false],
  ['stderr redirected gets lines', true, false, false, false],
  ['nothing a terminal gets lines', false, false, false, false]
] as const) {
  test(`${name}`, () => {
    assert.equal(wantsBar({ stdout: sink(stdoutTTY), stderr: sink(stderrTTY) }, json), bar)
  })
}

test('without a terminal, the wait prints the counts line only when it changes, then the final line', () => {
  const lines: string[] = []
  const d = createWaitDisplay({ stdout: sink(false), stderr: sink(false) }, false, (s, last) => { lines.push(`${s}${last === true ? ' (last)' : ''}`) })
  d.update(verdict(0, '4 task(s): 0 done, 4 processing, 0 waiting, 0 failed'))
  d.update(verdict(0, '4 task(s): 0 done, 4 processing, 0 waiting, 0 failed'))
  d.update(verdict(2, '4 task(s): 2 done, 2 processing, 0 waiting, 0 failed'))
  d.update(verdict(2, '4 task(s): 2 done, 2 processing, 0 waiting, 0 failed'))
  d.finish('settled')
  assert.deepEqual(lines, [
    '4 task(s): 0 done, 4 processing, 0 waiting, 0 failed',
    '4 task(s): 2 done, 2 processing, 0 waiting, 0 failed',
    'settled (last)'
  ])
})

test('the bar shows the settled tasks of the total with the counts line, neutralised', async () => {
  const stream = new PassThrough()
  let text = ''
  stream.on('data', (c: Buffer) => { text += c.toString() })
  // noTTYOutput: the library draws on a stream that is not a terminal, so the rendering can be read
  const bar = new SingleBar({ ...barOptions(stream), noTTYOutput: true, notTTYSchedule: 1 })
  bar.start(4, 0, { line: '4 task(s): 0 done' })
  bar.update(2, { line: '4 task(s): 2 done, 2 processing, 0 waiting, 0 failed' })
  bar.stop()
  // a start draws at once (updates in between are drawn at the library's schedule)
  const hostile = new SingleBar({ ...barOptions(stream), noTTYOutput: true })
  hostile.start(4, 1, { line: 'evil \u001b]52;c;aGk=\u0007 task' })
  hostile.stop()
  assert.match(text, /\[░{20}\] 0\/4 task\(s\) settled \| 4 task\(s\): 0 done/)
  assert.match(text, /\[█{10}░{10}\] 2\/4 task\(s\) settled \| 4 task\(s\): 2 done, 2 processing, 0 waiting, 0 failed/)
  // the line comes from the server's counts, but it reaches the terminal only through terminalText
  assert.match(text, /1\/4 task\(s\) settled \| evil \\u001b]52;c;aGk=\\u0007 task/)
  assert.ok(!text.includes('\u001b]52'), 'no OSC 52 sequence reaches the terminal')
})

test('an empty selection is drawn full, not divided by zero', () => {
  const stream = new PassThrough()
  let text = ''
  stream.on('data', (c: Buffer) => { text += c.toString() })
  const bar = new SingleBar({ ...barOptions(stream), noTTYOutput: true })
  bar.start(0, 0, { line: '0 task(s)' })
  bar.stop()
  assert.match(text, /\[█{20}\] 0\/0 task\(s\) settled \| 0 task\(s\)/)
})
