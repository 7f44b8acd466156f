// peer-alsf.mjs — times a definition in aws-local-stepfunctions (the peer),
// the way `stepd run --repeat N` times it in stepd: one process, the
// definition built once, W warm-up executions, then N executions back to
// back. Task states run local functions instead of Lambda (overrides keyed
// by state name). Prints one JSON object on stdout.
//
// usage: node peer-alsf.mjs --definition F --input F --executions N
//          [--warmup W] [--transitions T] [--bench NAME] [--peers DIR]
//          [--concurrency C]
// T is the number of states one execution enters (the peer does not count
// them); NAME picks an output check. Needs node >= 22 (the peer's engines).
// --bench order-workflow (bench/fn.sh's fn-order): each execution gets its
// own order id (order.id = "o-<n>", "w-<n>" in the warm-up), every output
// is checked, and C executions are kept in flight (C lanes, each awaiting
// one execution after another, run together with Promise.all; default 1),
// the way the stepd side keeps C connections busy. Latencies are reported.
import { readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { pathToFileURL, fileURLToPath } from 'node:url';

function args(argv) {
  const o = {};
  for (let i = 0; i < argv.length; i++) {
    if (!argv[i].startsWith('--')) throw new Error(`unexpected argument ${argv[i]}`);
    o[argv[i].slice(2)] = argv[++i];
  }
  return o;
}
const opt = args(process.argv.slice(2));
if (!opt.definition || !opt.input || !opt.executions) {
  console.error('usage: node peer-alsf.mjs --definition F --input F --executions N [--warmup W] [--transitions T] [--bench NAME]');
  process.exit(2);
}
const executions = Number(opt.executions);
const warmup = Number(opt.warmup ?? 0);
const perExec = Number(opt.transitions ?? 0);
const peers = opt.peers ?? join(dirname(fileURLToPath(import.meta.url)), 'peers');

// Load the peer through its package.json "exports" (its ESM build for node).
const pkgDir = join(peers, 'node_modules', 'aws-local-stepfunctions');
const pkg = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8'));
const entry = (pkg.exports && (pkg.exports.import || pkg.exports.default)) || pkg.main;
const { StateMachine } = await import(pathToFileURL(join(pkgDir, entry)).href);

// Stand-ins for the Lambda functions a bench may call, by function name.
const orders = new Map();
const functions = {
  Validate(event) {
    if (!(event?.order?.amount > 0)) {
      const err = new Error('order.amount must be > 0');
      err.name = 'ValidationError';
      throw err;
    }
    return event;
  },
  Charge(event) { return { ...event, payment_id: `pay-${event.order.id}`, charged: true }; },
  Record(event) {
    orders.set(event.order.id, { ...event.order, payment_id: event.payment_id, charged: event.charged });
    return { status: 'recorded' };
  },
};
const identity = (event) => event;

function taskOverrides(machine, into = {}) {
  for (const [name, state] of Object.entries(machine.States ?? {})) {
    if (state.Type === 'Task') {
      const fn = String(state.Resource).split(':function:')[1]?.split(':')[0];
      into[name] = functions[fn] ?? identity;
    } else if (state.Type === 'Map') {
      taskOverrides(state.ItemProcessor ?? state.Iterator ?? {}, into);
    } else if (state.Type === 'Parallel') {
      for (const branch of state.Branches ?? []) taskOverrides(branch, into);
    }
  }
  return into;
}

// What a correct result looks like, per bench; a wrong answer fast is no result.
const checks = {
  'pass-chain-100': (o) => o?.f100?.step === 100 && Object.keys(o).filter((k) => /^f\d{3}$/.test(k)).length === 100,
  'choice-loop': (o) => o?.counter === o?.limit,
  'map-10k': (o) => Array.isArray(o) && o.length === 10000 && o[9999].id === 9999 && o[9999].done === true,
  'parallel-fanout': (o) => Array.isArray(o) && o.length === 10 && o[9]?.s10?.step === 10,
  'order-workflow': (o) => o?.status === 'recorded',
};
const check = checks[opt.bench] ?? (() => true);

const definition = JSON.parse(readFileSync(opt.definition, 'utf8'));
const input = JSON.parse(readFileSync(opt.input, 'utf8'));
const sm = new StateMachine(definition); // validation happens here, outside the timing
const runOptions = { overrides: { taskResourceLocalHandlers: taskOverrides(definition) } };

if (opt.bench === 'order-workflow') {
  await orderWorkflow();
  process.exit(0);
}

for (let i = 0; i < warmup; i++) await sm.run(input, runOptions).result;

let last;
const t0 = process.hrtime.bigint();
for (let i = 0; i < executions; i++) last = await sm.run(input, runOptions).result;
const seconds = Number(process.hrtime.bigint() - t0) / 1e9;

if (!check(last)) {
  console.error(`peer-alsf: wrong output for ${opt.bench}: ${JSON.stringify(last).slice(0, 300)}`);
  process.exit(1);
}
const transitions = perExec * executions;
console.log(JSON.stringify({
  engine: `aws-local-stepfunctions ${pkg.version}`,
  node: process.version,
  executions,
  transitions,
  seconds: +seconds.toFixed(6),
  transitions_per_second: perExec ? Math.round(transitions / seconds) : null,
  executions_per_second: +(executions / seconds).toFixed(1),
  max_rss_kb: process.resourceUsage().maxRSS, // kilobytes
}));

// order-workflow: an order id per execution, every output checked, C lanes.
async function orderWorkflow() {
  const concurrency = Math.max(1, Number(opt.concurrency ?? 1));
  const orderInput = (id) => ({ ...input, order: { ...input.order, id } });
  const bad = [];
  const lat = [];
  async function runAll(prefix, n, timed) {
    let next = 0;
    async function lane() {
      while (next < n) {
        const id = `${prefix}-${++next}`;
        const s = timed ? process.hrtime.bigint() : 0n;
        let out;
        try {
          out = await sm.run(orderInput(id), runOptions).result;
        } catch (e) {
          out = { error: String(e) };
        }
        if (timed) lat.push(Number(process.hrtime.bigint() - s));
        if (!check(out)) bad.push(`${id}: ${JSON.stringify(out).slice(0, 300)}`);
      }
    }
    await Promise.all(Array.from({ length: Math.min(concurrency, n) }, lane));
  }
  await runAll('w', warmup, false);
  const w = bad.length;
  orders.clear();
  const t = process.hrtime.bigint();
  await runAll('o', executions, true);
  const secs = Number(process.hrtime.bigint() - t) / 1e9;
  if (bad.length || orders.size !== executions) {
    console.error(`peer-alsf: order-workflow: ${bad.length} wrong output(s) (${w} in the warm-up), ` +
      `${orders.size} orders recorded: ${bad[0] ?? ''}`);
    process.exit(1);
  }
  lat.sort((a, b) => a - b);
  const pct = (p) => lat[Math.max(0, Math.min(lat.length - 1, Math.ceil(lat.length * p / 100) - 1))] / 1e6;
  console.log(JSON.stringify({
    engine: `aws-local-stepfunctions ${pkg.version}`,
    node: process.version,
    executions,
    concurrency,
    checked: executions - bad.length,
    transitions: perExec * executions,
    seconds: +secs.toFixed(6),
    transitions_per_second: perExec ? Math.round(perExec * executions / secs) : null,
    executions_per_second: +(executions / secs).toFixed(1),
    latency_ms_p50: +pct(50).toFixed(4),
    latency_ms_p99: +pct(99).toFixed(4),
    max_rss_kb: process.resourceUsage().maxRSS, // kilobytes
  }));
}
