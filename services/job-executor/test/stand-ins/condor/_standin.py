# STAND-IN for HTCondor's command-line tools (HTCondor's daemons cannot run here).
# Reproduces the argument formats and the -json ClassAd output the
# job-executor uses: condor_submit -terse <file>; condor_q <id> -json
# -attributes a,b; condor_history <id> -json -limit 1 -attributes a,b;
# condor_rm <id>. HTCondor's own code does the parsing: the submit file is read
# with the htcondor2 bindings' Submit (HTCondor's submit parser and macro
# expansion), job attributes and -constraint expressions are ClassAd
# expressions evaluated by classad2, and the -json answers are ClassAds
# printed by classad2. Only the splitting of the "new syntax" argument and
# environment lists is the stand-in's own (the bindings do not expose it).
# Jobs really run (as local processes); state is kept in
# $CONDOR_STANDIN_DIR. Fault injection by submit description attributes:
#   +StandinHold = "reason"   the job is held at once with that HoldReason
#   +StandinHoldCode = 13     its HoldReasonCode
# allowed_execute_duration holds the job with code 47, as HTCondor does.
# A busy schedd: CONDOR_STANDIN_QUERY_DELAY_S makes condor_q answer that much
# later (each such query notes 'start' and 'end' in $CONDOR_STANDIN_DIR/slow-queries).
import fcntl, json, os, re, signal, subprocess, sys, time
try:
    import classad2, htcondor2
except ImportError:
    # run again under the environment that has the bindings (deploy/local/htcondor.sh)
    py = os.environ.get('AUTOCAL_HTCONDOR_PYTHON', '')
    if py == '' or os.path.abspath(py) == os.path.abspath(sys.executable):  # (a venv's python is a symlink: compare the paths, not their targets)
        sys.exit(f"{os.path.basename(sys.argv[0])}: needs HTCondor's Python bindings (htcondor2, classad2): set AUTOCAL_HTCONDOR_PYTHON to the python that `bash deploy/local/htcondor.sh path` prints (stand-in)")
    os.execv(py, [py, sys.argv[0]] + sys.argv[1:])

STATE = os.environ.get('CONDOR_STANDIN_DIR') or sys.exit('CONDOR_STANDIN_DIR is not set (stand-in)')
os.makedirs(STATE, exist_ok=True)

def job_file(cluster): return os.path.join(STATE, f'{cluster}.json')

def load(cluster):
    try:
        with open(job_file(cluster)) as f: return json.load(f)
    except FileNotFoundError: return None

def save(job):
    with open(job_file(job['ClusterId']) + '.tmp', 'w') as f: json.dump(job, f)
    os.replace(job_file(job['ClusterId']) + '.tmp', job_file(job['ClusterId']))

def new_syntax(value):
    """HTCondor 'new syntax' list: "a 'b c' d""e" -> [a, b c, d"e]"""
    value = value.strip()
    if not (value.startswith('"') and value.endswith('"')): return value.split()
    value = value[1:-1].replace('""', '"')
    items, cur, i, quoted, has = [], '', 0, False, False
    while i < len(value):
        c = value[i]
        if quoted:
            if c == "'" and value[i+1:i+2] == "'": cur += "'"; i += 1
            elif c == "'": quoted = False
            else: cur += c
        elif c == "'": quoted = True; has = True
        elif c.isspace():
            if cur or has: items.append(cur)
            cur, has = '', False
        else: cur += c
        i += 1
    if cur or has: items.append(cur)
    return items

def refresh(job):
    """Advance a running job: finished, or over its allowed execute duration."""
    if job['JobStatus'] != 2: return job
    if os.path.exists(job['exitfile']):
        code = int(open(job['exitfile']).read().strip() or '0')
        job['JobStatus'] = 4
        if code < 0: job.update(ExitBySignal=True, ExitSignal=-code)
        else: job.update(ExitBySignal=False, ExitCode=code)
        job['CompletionDate'] = int(time.time())
        save(job)
    elif job.get('duration', 0) > 0 and time.time() - job['JobStartDate'] > job['duration']:
        kill(job)
        d = job['duration']
        job.update(JobStatus=5, HoldReason=f'The job exceeded allowed execute duration of {d // 86400}+{d // 3600 % 24:02d}:{d // 60 % 60:02d}:{d % 60:02d}', HoldReasonCode=47, HoldReasonSubCode=0)
        save(job)
    return job

def kill(job):
    try: os.killpg(job['pid'], signal.SIGKILL)
    except (ProcessLookupError, KeyError): pass

def class_ad(job):
    """The job's ClassAd (its capitalised attributes; the lower-case keys are the stand-in's own)."""
    ad = classad2.ClassAd()
    for k, v in job.items():
        if k[0].isupper(): ad[k] = v
    return ad

def ad(job, attributes):
    full = class_ad(job)
    if not attributes: return full
    out = classad2.ClassAd()
    for k in attributes:
        if k in full: out[k] = full[k]
    return out

def print_ads(ads):
    if not ads: return  # HTCondor prints nothing when no job matched
    print('[')
    print(',\n'.join(a.printJson().strip() for a in ads))
    print(']')

def parse_constraint(expr):
    """A -constraint: any ClassAd expression, parsed by classad2."""
    try: return classad2.ExprTree(expr)
    except Exception as e: sys.exit(f'{os.path.basename(sys.argv[0])}: constraint {expr!r} is not a ClassAd expression: {e}')

def matches(constraint, job):
    return constraint.eval(class_ad(job)) is True

def parse_query_args(argv):
    ids, attributes, i = [], None, 0
    while i < len(argv):
        a = argv[i]
        if a == '-json': pass
        elif a in ('-attributes', '-af'): attributes = argv[i+1].split(','); i += 1
        elif a == '-constraint': ids.append(parse_constraint(argv[i+1])); i += 1
        elif a in ('-limit', '-match'): i += 1
        elif a.startswith('-'): sys.exit(f'{os.path.basename(sys.argv[0])}: unknown option {a} (stand-in)')
        else: ids.append(a)
        i += 1
    return ids, attributes

def cluster_of(id_):
    m = re.fullmatch(r'(\d+)(?:\.(\d+))?', id_)
    if not m: sys.exit(f'Invalid job id {id_}')
    return int(m.group(1))

def submit(argv):
    if argv[:1] != ['-terse'] or len(argv) != 2: sys.exit('usage (stand-in): condor_submit -terse <submit file>')
    try:
        sub = htcondor2.Submit(open(argv[1]).read())  # HTCondor's submit parser
    except Exception as e:
        sys.exit(f'\nERROR: {argv[1]}: {e}')
    def value(key):  # the value with its macros expanded, as condor_submit reads it
        return sub.expand(key) if key in sub.keys() else ''
    exe = value('executable')
    if not os.path.isabs(exe) or not os.path.exists(exe):
        sys.exit(f'\nERROR: Executable file {exe} does not exist')
    # the schedd hands out cluster ids one at a time: concurrent condor_submit calls never share one
    with open(os.path.join(STATE, 'next-cluster.lock'), 'w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        counter = os.path.join(STATE, 'next-cluster')
        cluster = int(open(counter).read()) if os.path.exists(counter) else 1
        open(counter, 'w').write(str(cluster + 1))
    now = int(time.time())
    job = {'ClusterId': cluster, 'ProcId': 0, 'QDate': now, 'Cmd': exe, 'Iwd': value('initialdir') or os.getcwd()}
    for key in sub.keys():  # +Attr = expr: job attributes, ClassAd expressions evaluated by classad2
        if key.startswith('MY.'):
            try: job[key[3:]] = classad2.ExprTree(value(key)).eval()
            except Exception as e: sys.exit(f'\nERROR: {argv[1]}: {key} = {value(key)}: {e}')
    if 'StandinHold' in job:
        job.update(JobStatus=5, HoldReason=job.pop('StandinHold'), HoldReasonCode=int(job.pop('StandinHoldCode', 0)), HoldReasonSubCode=0)
        save(job)
    else:
        env = dict(item.split('=', 1) for item in new_syntax(value('environment') or '""'))
        env.setdefault('PATH', '/usr/bin:/bin')
        exitfile = os.path.join(STATE, f'{cluster}.exit')
        wrapper = 'import subprocess, sys\nr = subprocess.call(sys.argv[2:])\nopen(sys.argv[1], "w").write(str(r))'
        os.makedirs(job['Iwd'], exist_ok=True)
        out, err = value('output'), value('error')
        p = subprocess.Popen([sys.executable, '-c', wrapper, exitfile, exe] + new_syntax(value('arguments') or '""'),
                             cwd=job['Iwd'], env=env, start_new_session=True,
                             stdout=open(out, 'a') if out else subprocess.DEVNULL,
                             stderr=open(err, 'a') if err else subprocess.DEVNULL)
        job.update(JobStatus=2, JobStartDate=now, pid=p.pid, exitfile=exitfile, duration=int(value('allowed_execute_duration') or '0'))
        save(job)
    print(f'{cluster}.0 - {cluster}.0')

def q(argv, history):
    ids, attributes = parse_query_args(argv)
    delay = float(os.environ.get('CONDOR_STANDIN_QUERY_DELAY_S', '0'))
    if delay > 0 and not history:
        with open(os.path.join(STATE, 'slow-queries'), 'a') as f: f.write('start\n')
        time.sleep(delay)
        with open(os.path.join(STATE, 'slow-queries'), 'a') as f: f.write('end\n')
    out = []
    for id_ in ids:
        if isinstance(id_, classad2.ExprTree):  # a constraint: every job that matches it
            for name in sorted(os.listdir(STATE)):
                if not re.fullmatch(r'\d+\.json', name): continue
                job = refresh(load(int(name[:-5])))
                if matches(id_, job) and (job['JobStatus'] not in (3, 4)) != history: out.append(ad(job, attributes))
            continue
        job = load(cluster_of(id_))
        if job is None: continue
        job = refresh(job)
        in_queue = job['JobStatus'] not in (3, 4)
        if in_queue != history: out.append(ad(job, attributes))
    print_ads(out)

def rm(argv):
    if len(argv) != 1: sys.exit('usage (stand-in): condor_rm <cluster>[.<proc>]')
    cluster = cluster_of(argv[0])
    job = load(cluster)
    if job is None or refresh(job)['JobStatus'] in (3, 4):
        print(f"Couldn't find/remove all jobs in cluster {cluster}", file=sys.stderr)
        sys.exit(1)
    kill(job)
    job.update(JobStatus=3, RemoveReason=f"via condor_rm (by user {os.environ.get('USER', 'autocal')})")
    save(job)
    print(f'All jobs in cluster {cluster} have been marked for removal')
