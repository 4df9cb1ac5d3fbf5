// Untrusted text in Mattermost messages. Reasons, task names, run metadata and
// payload details come from jobs, workflow files and outside sources; put into a
// message as they are, `@channel` pages a whole channel, `[x](https://…)` makes
// a link and a control character can hide or rewrite what a reader sees.
// Mattermost renders CommonMark plus @-mentions and ~channel links
// (https://docs.mattermost.com/collaborate/format-messages.html): every
// CommonMark punctuation character may be backslash-escaped, and a mention is
// only taken where `@` is followed directly by a name character. Line breaks
// are made visible, so a field never starts a line: the characters that only
// act at a line's start (# - + . >) need no escape, the others do.

// eslint-disable-next-line no-control-regex -- matching control characters is the point
const controlRe = /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/g
const markdownRe = /[\\`*_{}[\]()|~<>]/g

/**
 * Makes untrusted text safe to place inside a Mattermost message: control and
 * bidirectional-formatting characters become `\uXXXX` (line breaks included,
 * so one field stays on one line), the CommonMark punctuation that acts inside a
 * line is backslash-escaped,
 * and `@`/`~` are followed by a zero-width space so that no mention or channel
 * link fires. At most `maxLength` characters of the input are kept (`…` marks a cut).
 * The text reads the same to a person; only its effects are gone.
 */
export function mattermostText (untrusted: string, maxLength = 500): string {
  const cut = untrusted.length > maxLength ? `${untrusted.slice(0, maxLength)}…` : untrusted
  return cut
    .replace(markdownRe, c => `\\${c}`)
    .replace(controlRe, c => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
    .replace(/[@~]/g, c => `${c}\u200b`)
}
