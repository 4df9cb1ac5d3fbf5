import { test } from 'node:test'
import assert from 'node:assert/strict'
import { isInside, parseManifest } from '../../src/domain/manifest.ts'

test('a manifest lists outputs inside the output directory, relative or absolute', () => {
  assert.deepEqual(parseManifest(undefined, '/o'), { ok: true, outputs: [], results: {} })
  assert.deepEqual(parseManifest('{"outputs": [{"path": "a.db", "label": "condition"}, "sub/b.root", "/o/c", "sub/../d"]}', '/o'),
    { ok: true, outputs: [{ path: '/o/a.db', label: 'condition' }, { path: '/o/sub/b.root', label: '' }, { path: '/o/c', label: '' }, { path: '/o/d', label: '' }], results: {} })
})

test('a manifest naming a path outside the output directory, or unusable, is refused with the reason', () => {
  const cases: Array<[string, RegExp]> = [
    ['{"outputs": ["/etc/passwd"]}', /^outputs\.json: outputs\[0\]\.path "\/etc\/passwd" is outside the job's output directory \/o$/],
    ['{"outputs": ["ok.db", "../other/payload.db"]}', /outputs\[1\]\.path "\.\.\/other\/payload\.db" is outside/],
    ['{"outputs": ["sub/../../x"]}', /is outside/],
    ['{"outputs": ["/o2/x"]}', /is outside/],
    ['{"outputs": ["."]}', /is outside/],
    ['{"outputs": ["a\\u0000b"]}', /NUL/],
    ['{', /^outputs\.json is not valid JSON$/],
    ['root:x:0:0:root:/root:/bin/bash', /^outputs\.json is not valid JSON$/], // the text is never echoed
    ['{"outputs": [{"label": "x"}]}', /outputs\[0\]\.path must be a non-empty string/],
    ['[]', /expected \{"outputs"/],
    ['null', /expected \{"outputs"/]
  ]
  for (const [text, reason] of cases) {
    const r = parseManifest(text, '/o')
    assert.equal(r.ok, false, text)
    assert.match((r as { reason: string }).reason, reason, text)
  }
})

test('isInside: the directory itself and paths below it, nothing beside or above', () => {
  const cases: Array<[string, string, boolean]> = [
    ['/o', '/o', true], ['/o', '/o/a', true], ['/o', '/o/a/b', true], ['/o', '/o2', false],
    ['/o', '/', false], ['/o/a', '/o', false], ['/o', '/o/..a', true], ['/o', '/etc/passwd', false]
  ]
  for (const [dir, path, inside] of cases) assert.equal(isInside(dir, path), inside, `${dir} ${path}`)
})

// issue 15: numeric results next to the outputs
test('a manifest may carry numeric results; names and values outside the rules make it unusable, naming them', () => {
  const ok = parseManifest('{"outputs": ["a.db"], "results": {"chi2_ndf": 1.07, "hits": 40210, "mean_offset_ns": -0.12}}', '/o')
  assert.deepEqual(ok, { ok: true, outputs: [{ path: '/o/a.db', label: '' }], results: { chi2_ndf: 1.07, hits: 40210, mean_offset_ns: -0.12 } })
  assert.deepEqual(parseManifest('{"outputs": []}', '/o'), { ok: true, outputs: [], results: {} })
  const refused: Array<[string, RegExp]> = [
    ['{"outputs": [], "results": [1, 2]}', /results must be an object of name → number/],
    ['{"outputs": [], "results": {"Chi2": 1}}', /results: result "Chi2" is not a valid name: expected lower-case letters/],
    ['{"outputs": [], "results": {"__proto__": 1}}', /result "__proto__" is not a valid name/],
    ['{"outputs": [], "results": {"chi2": "1.07"}}', /results\.chi2: 1\.07 is not a finite number/],
    ['{"outputs": [], "results": {"chi2": null}}', /results\.chi2: null is not a finite number/],
    [`{"outputs": [], "results": {${Array.from({ length: 65 }, (_, i) => `"r${i}": ${i}`).join(', ')}}}`, /65 results, at most 64/]
  ]
  for (const [text, reason] of refused) {
    const r = parseManifest(text, '/o')
    assert.equal(r.ok, false, text)
    assert.match((r as { reason: string }).reason, reason, text)
  }
})
