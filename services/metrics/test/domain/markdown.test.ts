import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mattermostText } from '../../src/domain/markdown.ts'

const cases: Array<[string, string, string]> = [
  ['plain text stays readable', 'exit code 3', 'exit code 3'],
  ['a channel mention does not fire', 'ping @channel now', 'ping @\u200bchannel now'],
  ['a user mention does not fire', '@all @here @shifter', '@\u200ball @\u200bhere @\u200bshifter'],
  ['a channel link does not fire', 'see ~town-square', 'see \\~\u200btown-square'],
  ['a markdown link is shown as text', '[click](https://x.example/a)', '\\[click\\]\\(https://x.example/a\\)'],
  ['emphasis and code are shown as text', '*bold* _it_ `code`', '\\*bold\\* \\_it\\_ \\`code\\`'],
  ['a heading or quote cannot start a line', '# big\n> quoted', '# big\\u000a\\> quoted'],
  ['terminal escapes are made visible', 'ok\u001b[2Jgone', 'ok\\u001b\\[2Jgone'],
  ['bidirectional overrides are made visible', 'abc\u202edcba', 'abc\\u202edcba'],
  ['a carriage return cannot overwrite a line', 'fine\rFAKE', 'fine\\u000dFAKE']
]

for (const [name, input, expected] of cases) {
  test(`mattermostText: ${name}`, () => {
    assert.equal(mattermostText(input), expected)
  })
}

test('mattermostText keeps at most maxLength characters of the input and marks the cut', () => {
  assert.equal(mattermostText('abcdef', 3), 'abc…')
})
