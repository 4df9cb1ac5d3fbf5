// Every submit description autocal writes, read back by HTCondor's own code:
// the htcondor2 bindings' submit parser (with its macro expansion) and
// classad2 for job attributes and constraints (test/stand-ins/condor/read_submit.py).
// HTCondor's Python bindings come from deploy/local/htcondor.sh; test/run.sh
// sets AUTOCAL_HTCONDOR_PYTHON.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { condorArguments, condorConstraint, condorEnvironment, submitDescription, type CondorJobSpec } from '../../src/domain/condor-submit.ts'

const python = process.env.AUTOCAL_HTCONDOR_PYTHON
const reader = new URL('../stand-ins/condor/read_submit.py', import.meta.url).pathname

interface Read { values?: Record<string, string>, attributes?: Record<string, unknown>, matches?: boolean[], error?: string }

/** What HTCondor makes of each description, with the constraints evaluated against its job attributes. */
function readByHTCondor (cases: Array<{ description: string, constraints: string[] }>): Read[] {
  assert.ok(python !== undefined && python !== '', 'AUTOCAL_HTCONDOR_PYTHON is not set: run the tests through test/run.sh, or set it to the python that `bash deploy/local/htcondor.sh path` prints')
  return JSON.parse(execFileSync(python, [reader], { input: JSON.stringify(cases), encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 })) as Read[]
}

const spec = (over: Partial<CondorJobSpec>): CondorJobSpec => ({
  jobId: 'prompt/run-355100/timing-reco/1/0',
  try: 1,
  argv: ['/usr/bin/python3', 'x.py'],
  env: { AUTOCAL_JOB: '0' },
  outdir: '/data/jobs/prompt/run-355100/timing-reco/a1/j0',
  stdout: '/data/jobs/o/job.out',
  stderr: '/data/jobs/o/job.err',
  eventLog: '/data/jobs/o/autocal.events.log',
  timeoutS: 3600,
  cpus: 1,
  memoryMb: 2000,
  diskMb: 100,
  ...over
})

// argv items and environment values a workflow may well pass: HTCondor must read each exactly as written
const cases: Array<{ name: string, spec: CondorJobSpec }> = [
  { name: 'plain words', spec: spec({ argv: ['/usr/bin/python3', 'process_block.py', '--runs', '355100,355101', '--out', '/data/out'] }) },
  { name: 'spaces and empty items', spec: spec({ argv: ['/usr/bin/python3', 'two words', '', ' leading', 'trailing '] }) },
  { name: 'quotes of both kinds', spec: spec({ argv: ['/usr/bin/python3', "it's", 'say "hi"', '\'"\'', "''"], env: { GREETING: "it's a \"test\"" } }) },
  { name: 'HTCondor macros are not expanded', spec: spec({ argv: ['/usr/bin/python3', '$(HOME)', '$(DOLL', '$ENV(PATH)', '$RANDOM_CHOICE(a,b)', 'cost$', '$'], env: { PATTERN: '$(Cluster).$(Process)', PRICE: '5$' } }) },
  { name: 'shell and ClassAd characters', spec: spec({ argv: ['/usr/bin/python3', '#not a comment', 'a;b|c&d', '\\back\\slash\\', '=', '+Attr = 1', 'queue 2', '{run}'], env: { EXPR: 'a == "b" && c' } }) },
  { name: 'unicode', spec: spec({ argv: ['/usr/bin/python3', 'π⁰ → γγ', 'Run2022C'], env: { LABEL: 'φ-symmetry' } }) },
  { name: 'a job id with ClassAd string escapes', spec: spec({ jobId: 'odd/"quoted"\\id$(X)/1/0', try: 7 }) },
  { name: 'extra attributes with a dollar', spec: spec({ attributes: { AutocalNote: '"costs 5$ and $(HOME)"' } }) }
]

test("HTCondor's submit parser reads every value of autocal's submit descriptions exactly as autocal meant it", () => {
  const read = readByHTCondor(cases.map(c => ({
    description: submitDescription(c.spec),
    constraints: [condorConstraint(c.spec.jobId, c.spec.try), condorConstraint(c.spec.jobId, c.spec.try + 1), condorConstraint(`${c.spec.jobId}x`, c.spec.try)]
  })))
  for (const [i, c] of cases.entries()) {
    const r = read[i]!
    assert.equal(r.error, undefined, `${c.name}: HTCondor refused the description: ${r.error}`)
    const v = r.values!
    assert.equal(v.executable, c.spec.argv[0], `${c.name}: executable`)
    assert.equal(v.arguments, condorArguments(c.spec.argv.slice(1)), `${c.name}: arguments`)
    assert.equal(v.environment, condorEnvironment(c.spec.env), `${c.name}: environment`)
    assert.equal(v.initialdir, c.spec.outdir, `${c.name}: initialdir`)
    assert.equal(v.output, c.spec.stdout, `${c.name}: output`)
    assert.equal(v.request_memory, '2000', `${c.name}: request_memory`)
    assert.equal(v.allowed_execute_duration, '3600', `${c.name}: allowed_execute_duration`)
    assert.equal(r.attributes!.AutocalJobId, c.spec.jobId, `${c.name}: +AutocalJobId evaluates to the job id`)
    assert.equal(r.attributes!.AutocalTry, c.spec.try, `${c.name}: +AutocalTry`)
    assert.deepEqual(r.matches, [true, false, false], `${c.name}: the constraint finds this (job, try) and no other`)
  }
  assert.equal(read[7]!.attributes!.AutocalNote, 'costs 5$ and $(HOME)')
})

test('a value HTCondor cannot hold is refused, naming it, before anything is written', () => {
  const refused: Array<[Partial<CondorJobSpec>, RegExp]> = [
    [{ argv: ['/usr/bin/python3', '-c', 'import sys\nsys.exit(0)'] }, /argument 2 "import sys\\nsys.exit\(0\)" holds a line break or NUL/],
    [{ argv: ['/usr/bin/python3', 'a\rb'] }, /argument 1 "a\\rb" holds a line break/],
    [{ argv: ['/usr/bin/python3', 'nul\0'] }, /argument 1 .* holds a line break or NUL/],
    [{ argv: ['/usr/bin/python3', '$$(Memory)'] }, /argument 1 "\$\$\(Memory\)" holds '\$\$', which HTCondor keeps for its match-time \$\$\( substitution/],
    [{ argv: ['/usr/bin/python3', 'a$$b'] }, /argument 1 "a\$\$b" holds '\$\$'/],
    [{ argv: ['/usr/bin/python3', 'x$(Dollar)'] }, /argument 1 "x\$\(Dollar\)" holds '\$\(DOLLAR\)', HTCondor's macro for '\$'/],
    [{ env: { BAD: 'x\ny' } }, /environment variable BAD "BAD=x\\ny" holds a line break/],
    [{ env: { MATCH: '$$(Cpus)' } }, /environment variable MATCH .* holds '\$\$'/]
  ]
  for (const [over, message] of refused) {
    assert.throws(() => submitDescription(spec(over)), (e: Error) => {
      assert.match(e.message, /^cannot write the HTCondor submit description of job prompt\/run-355100\/timing-reco\/1\/0: /)
      assert.match(e.message, message)
      return true
    })
  }
})

test('every argument of up to four symbols of $ ( ) DOLLAR dollar \' " and space is either read back exactly by HTCondor or refused', () => {
  const alphabet = ['$', '(', ')', 'DOLLAR', 'dollar', "'", '"', ' ']
  let items = ['']
  const all: string[] = []
  for (let n = 1; n <= 4; n++) {
    items = items.flatMap(i => alphabet.map(a => i + a))
    all.push(...items)
  }
  const written: string[] = []
  let refused = 0
  for (const item of all) {
    try {
      submitDescription(spec({ argv: ['/usr/bin/python3', item] }))
      written.push(item)
    } catch {
      refused++
    }
  }
  // one description per item (HTCondor reads the arguments of each): in batches of one python process
  const read = readByHTCondor(written.map(item => ({ description: submitDescription(spec({ argv: ['/usr/bin/python3', item] })), constraints: [] })))
  const wrong = written.filter((item, i) => read[i]!.values?.arguments !== condorArguments([item]))
  assert.deepEqual(wrong.slice(0, 10), [], `${wrong.length} of ${written.length} arguments read back differently by HTCondor`)
  assert.ok(written.length > 4000 && refused > 0, `${written.length} written, ${refused} refused`)
})

// issue 15: job resources and batch options of the workflow, read back by HTCondor
test('a container image, an accounting group and a job flavour are read by HTCondor as the workflow gave them', () => {
  const withOptions = spec({ argv: ['/opt/calib/run.sh', '--run', '355100'], image: 'docker://registry.cern.ch/cmsecal/calib:2022$x', accountingGroup: 'group_u_CMS.u_zh', jobFlavour: 'longlunch', cpus: 4, memoryMb: 8192, diskMb: 20480 })
  const plain = spec({})
  const [a, b] = readByHTCondor([{ description: submitDescription(withOptions), constraints: [] }, { description: submitDescription(plain), constraints: [] }])
  assert.equal(a?.error, undefined, a?.error)
  const v = a!.values!
  assert.equal(v.universe, 'container')
  assert.equal(v.container_image, 'docker://registry.cern.ch/cmsecal/calib:2022$x')
  assert.equal(v.transfer_executable, 'false')
  assert.equal(v.executable, '/opt/calib/run.sh')
  assert.equal(v.accounting_group, 'group_u_CMS.u_zh')
  assert.equal(a!.attributes!.JobFlavour, 'longlunch')
  assert.equal(v.request_cpus, '4')
  assert.equal(v.request_memory, '8192')
  assert.equal(v.request_disk, String(20480 * 1024))
  assert.equal(b?.values?.universe, 'vanilla')
  assert.equal(b?.values?.accounting_group, undefined)
  assert.equal(b?.attributes?.JobFlavour, undefined)
})

test('an image, accounting group or job flavour HTCondor cannot hold is refused, naming it', () => {
  assert.throws(() => submitDescription(spec({ image: 'img\nqueue 5' })), /the image "img\\nqueue 5" holds a line break/)
  assert.throws(() => submitDescription(spec({ accountingGroup: 'g$$(x)' })), /the accounting group "g\$\$\(x\)" holds '\$\$'/)
})
