// How `--wait` shows its progress: on an interactive terminal a progress bar
// (cli-progress) of the selected tasks that have settled, with the counts
// line beside it; otherwise (output piped or redirected, or --json) the
// counts line, printed only when it changes. Both go to stderr, like every
// progress of the CLI; the answer and --json stay alone on stdout.
import { SingleBar, type Options } from 'cli-progress'
import { terminalText } from './terminal-text.ts'
import type { WaitVerdict } from './wait-progress.ts'

export interface WaitDisplay {
  /** Shows where the tasks stand (the bar moves, or the line is printed when it changed). */
  update: (verdict: Pick<WaitVerdict, 'line' | 'total' | 'finished'>) => void
  /** Ends the bar (left on screen at its last value) and prints a final line below it. */
  finish: (line: string) => void
}

interface Stream { write: (s: string) => unknown, isTTY?: boolean }

/** A bar only for a person at a terminal: stdout and stderr are TTYs, and the answer is not --json. */
export const wantsBar = (io: { stdout: Stream, stderr: Stream }, json: boolean): boolean => !json && io.stdout.isTTY === true && io.stderr.isTTY === true

/**
 * The bar's cli-progress options: `[██████░░░░] 3/8 task(s) settled | 8 task(s): 3 done, …` on `stream`,
 * redrawn in place (no line wrap, cursor hidden while it runs). The counts line is neutralised (terminalText).
 */
export function barOptions (stream: NodeJS.WritableStream): Options {
  return {
    stream,
    format: (options, params, payload: { line?: string }) => {
      const size = options.barsize ?? 30
      const done = params.total === 0 ? size : Math.round(params.progress * size)
      return `[${'█'.repeat(done)}${'░'.repeat(size - done)}] ${params.value}/${params.total} task(s) settled | ${terminalText(payload.line ?? '')}`
    },
    barsize: 20,
    hideCursor: true,
    linewrap: false,
    clearOnComplete: false,
    stopOnComplete: false,
    fps: 10
  }
}

/**
 * The display of one `--wait`: a bar (wantsBar) or changes-only lines through
 * `line` (the CLI's progress printer, which neutralises and ends each line).
 */
export function createWaitDisplay (io: { stdout: Stream, stderr: Stream }, json: boolean, line: (s: string, last?: boolean) => void): WaitDisplay {
  if (!wantsBar(io, json)) {
    let shown = ''
    return {
      update: v => { if (v.line !== shown) line(v.line); shown = v.line },
      finish: s => { line(s, true) }
    }
  }
  const bar = new SingleBar(barOptions(io.stderr as unknown as NodeJS.WritableStream))
  let started = false
  return {
    update: v => {
      if (!started) bar.start(v.total, v.finished, { line: v.line })
      started = true
      bar.setTotal(v.total)
      bar.update(v.finished, { line: v.line })
    },
    finish: s => {
      if (started) bar.stop()
      started = false
      line(s, true)
    }
  }
}
