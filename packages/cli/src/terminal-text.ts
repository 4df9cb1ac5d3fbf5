// Text for a terminal from untrusted sources (run metadata, reasons, payload
// values, job logs, server errors): every character a terminal could act on
// is shown as a visible escape instead. One function, used by every print
// path of the CLI. Not strip-ansi: that removes ANSI sequences only, and
// leaves a bare CR, BEL, backspace or a C1 control to rewrite the screen.

// C0 controls (U+0000–U+001F) including ESC, BEL, CR, backspace; DEL; C1
// controls (U+0080–U+009F, e.g. U+009B, the one-character CSI); the Unicode
// line and paragraph separators; the bidirectional overrides and isolates
// that reorder what is shown ("Trojan Source").
// eslint-disable-next-line no-control-regex -- control characters are what this matches
const unsafe = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/gu

const short: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t', '\b': '\\b', '\f': '\\f' }

function escaped (c: string): string {
  return Object.hasOwn(short, c) ? short[c] as string : `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`
}

/**
 * Neutralises `text` for a terminal: every control character (C0, DEL, C1),
 * line/paragraph separator and bidi override becomes a visible JSON-style
 * escape (`\u001b`, `\r`, `\n`…), so an ESC [2J, an OSC 52 clipboard write
 * (ESC ] 52 ; … BEL) or a CR overwriting a line reaches the terminal as text.
 * Options: `keep` lists characters left as they are where the output means
 * them (a tab between columns, newlines in a job log). A JSON line passes
 * through unchanged in meaning (JSON escapes C0 itself; `\u0080` inside a JSON
 * string is the same character).
 */
export function terminalText (text: string, options: { keep?: '\t' | '\t\n' } = {}): string {
  const keep = options.keep ?? ''
  return text.replace(unsafe, c => keep.includes(c) ? c : escaped(c))
}
