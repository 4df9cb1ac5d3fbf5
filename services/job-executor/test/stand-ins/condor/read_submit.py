# How HTCondor reads submit descriptions: for each description on stdin (a
# JSON list of strings), what HTCondor's submit parser (htcondor2.Submit)
# makes of it: every command's value with its macros expanded, and every
# +Attr job attribute evaluated by classad2; then, for each constraint given
# with it, whether classad2 finds that the job's attributes match it. Prints a
# JSON list of {values, attributes, matches} or {error}. HTCondor's code does
# all the parsing; nothing here interprets the syntax. Used by the tests.
import json, sys
import classad2, htcondor2

out = []
for case in json.load(sys.stdin):
    try:
        sub = htcondor2.Submit(case['description'])
        values = {k: sub.expand(k) for k in sub.keys()}
        attributes = {k[3:]: classad2.ExprTree(v).eval() for k, v in values.items() if k.startswith('MY.')}
        ad = classad2.ClassAd()
        for k, v in attributes.items(): ad[k] = v
        matches = [classad2.ExprTree(c).eval(ad) is True for c in case.get('constraints', [])]
        out.append({'values': values, 'attributes': attributes, 'matches': matches})
    except Exception as e:
        out.append({'error': str(e)})
print(json.dumps(out))
