// The JITOS viewer: the ledger, the graph, processes and workspaces as of any seq, over
// the daemon's GraphQL API (docs/API.md), live by its `records` subscription. No build
// step and nothing fetched from elsewhere: the daemon serves this file as it is.
"use strict";

const TOKEN_KEY = "jitos-token";
const RECORDS_SHOWN = 25;
const NODES_SHOWN = 200;

const state = {
  token: localStorage.getItem(TOKEN_KEY),
  head: 0,
  at: null, // null: follow the head
  socket: null,
};

const $ = (id) => document.getElementById(id);

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (value !== undefined && value !== null) node.setAttribute(key, value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function card(title, ...body) {
  return el("section", { class: "card" }, el("h2", {}, title), ...body);
}

function table(headings, rows) {
  return el("table", {},
    el("thead", {}, el("tr", {}, headings.map((h) => el("th", {}, h)))),
    el("tbody", {}, rows));
}

// A path in the decomposition by its last two steps, whole on hover.
function short(path) {
  const steps = path.split("/");
  return el("span", { title: path }, steps.length > 2 ? "…/" + steps.slice(-2).join("/") : path);
}

// A job's kind as `jitos inspect` words it: `run WORKER`, `ask` or `race`.
function jobKind(job) {
  return job.kind === "RUN" ? `run ${job.worker}` : job.kind.toLowerCase();
}

function stateClass(text) {
  const word = String(text || "").toLowerCase().split(/[^a-z]/)[0];
  return "state-" + word;
}

function time(ms) {
  return new Date(ms).toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
}

function actor(a) {
  if (a.kind === "PEER") return `uid ${a.uid}` + (a.pid ? ` pid ${a.pid}` : " (http)");
  if (a.kind === "NAMED") return a.name;
  return "jitosd";
}

async function gql(query, variables) {
  const response = await fetch("/graphql", {
    method: "POST",
    headers: { "content-type": "application/json", authorization: "Bearer " + state.token },
    body: JSON.stringify({ query, variables: variables || {} }),
  });
  if (response.status === 401) {
    signOut("that token is not accepted (revoked, or from another daemon)");
    throw new Error("unauthenticated");
  }
  const body = await response.json();
  if (body.errors && body.errors.length) throw new Error(body.errors[0].message);
  return body.data;
}

// ---- signing in ------------------------------------------------------------------------

function signOut(why) {
  localStorage.removeItem(TOKEN_KEY);
  state.token = null;
  $("signin").hidden = false;
  $("timeline").hidden = true;
  $("signin-error").textContent = why || "";
}

async function signIn() {
  const me = await gql("{ me { uid user roles } status }");
  state.head = me.status.head_seq;
  $("who").textContent = `${me.me.user} (${me.me.roles.join(", ")})`;
  $("store").textContent = `store ${me.status.store_id.slice(0, 12)}`;
  $("signin").hidden = true;
  $("timeline").hidden = false;
  subscribe();
  updateTimeline();
  await render();
}

$("signin-form").addEventListener("submit", (event) => {
  event.preventDefault();
  state.token = $("token").value.trim();
  localStorage.setItem(TOKEN_KEY, state.token);
  signIn().catch((e) => ($("signin-error").textContent = e.message));
});

// ---- the timeline ----------------------------------------------------------------------

function selected() {
  return state.at === null ? state.head : state.at;
}

function updateTimeline() {
  const slider = $("slider");
  slider.max = state.head;
  slider.value = selected();
  $("at").textContent = selected();
  $("head").textContent = state.head;
  $("follow").classList.toggle("on", state.at === null);
}

function moveTo(seq) {
  const clamped = Math.max(0, Math.min(state.head, seq));
  state.at = clamped === state.head ? null : clamped;
  updateTimeline();
  render();
}

$("slider").addEventListener("input", (event) => moveTo(Number(event.target.value)));
$("back").addEventListener("click", () => moveTo(selected() - 1));
$("forward").addEventListener("click", () => moveTo(selected() + 1));
$("follow").addEventListener("click", () => moveTo(state.head));
document.addEventListener("keydown", (event) => {
  if (event.target.tagName === "INPUT" && event.target.type !== "range") return;
  if (event.key === "ArrowLeft") moveTo(selected() - 1);
  if (event.key === "ArrowRight") moveTo(selected() + 1);
});

// ---- live records ----------------------------------------------------------------------

let renderQueued = false;

// Subscribes again once the daemon answers; while it does not (restarting), keeps trying.
function reconnect() {
  gql("{ me { uid } }").then(subscribe, (e) => {
    if (e.message !== "unauthenticated") setTimeout(reconnect, 2000);
  });
}

function subscribe() {
  if (state.socket) return;
  const url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/graphql";
  const socket = new WebSocket(url, "graphql-transport-ws");
  state.socket = socket;
  socket.onopen = () => socket.send(JSON.stringify({ type: "connection_init", payload: { token: state.token } }));
  socket.onmessage = (event) => {
    const message = JSON.parse(event.data);
    if (message.type === "connection_ack") {
      $("live").textContent = "live";
      $("live").classList.add("on");
      socket.send(JSON.stringify({ id: "records", type: "subscribe",
        payload: { query: "subscription { records { seq kind } }" } }));
    } else if (message.type === "error" || message.type === "complete") {
      // The subscription ended (a revoked token, a stopping daemon): say so, and start again.
      socket.close();
    } else if (message.type === "next" && message.payload.errors) {
      socket.close();
    } else if (message.type === "next" && message.payload.data) {
      state.head = Math.max(state.head, message.payload.data.records.seq);
      updateTimeline();
      // While following the head, what is shown follows it, at most a few times a second.
      if (state.at === null && !renderQueued) {
        renderQueued = true;
        setTimeout(() => { renderQueued = false; render(); }, 250);
      }
    }
  };
  socket.onclose = () => {
    state.socket = null;
    $("live").textContent = "reconnecting…";
    $("live").classList.remove("on");
    // A token refused since is found out by the next query, which signs out.
    if (state.token) setTimeout(reconnect, 2000);
  };
}

// ---- views -----------------------------------------------------------------------------

const RECORD_FIELDS = "seq kind timeMs hash parent summary actor { kind uid pid name }";

// Each render is numbered: one that finishes after a later one started shows nothing, so
// a slow read (a graph far back in time) never covers the seq chosen after it.
let renders = 0;

async function render() {
  const mine = ++renders;
  const route = location.hash.replace(/^#\/?/, "").split("/");
  const view = $("view");
  try {
    let shown;
    if (route[0] === "process" && route[1]) shown = await processView(Number(route[1]), route[2] === "attempt" ? Number(route[3]) : null);
    else if (route[0] === "workspace" && route[1]) shown = await workspaceView(Number(route[1]));
    else if (route[0] === "compare" && route[1] && route[2]) shown = await compareView(Number(route[1]), Number(route[2]));
    else shown = await overview();
    if (mine === renders) view.replaceChildren(...shown);
  } catch (e) {
    if (mine === renders && e.message !== "unauthenticated") view.replaceChildren(card("Error", el("p", { class: "error" }, e.message)));
  }
}

window.addEventListener("hashchange", render);

function inspector(record, previous) {
  if (!record) return card("Record", el("p", { class: "muted" }, "no record at this seq"));
  const linked = record.seq === 0 ? /^0+$/.test(record.parent) : previous && previous.hash === record.parent;
  return card(`Record ${record.seq}`, el("table", { id: "inspector" }, el("tbody", {},
    el("tr", {}, el("th", {}, "kind"), el("td", { class: "mono" }, record.kind)),
    el("tr", {}, el("th", {}, "what"), el("td", { id: "inspector-summary" }, record.summary)),
    el("tr", {}, el("th", {}, "who"), el("td", {}, actor(record.actor))),
    el("tr", {}, el("th", {}, "when"), el("td", {}, time(record.timeMs))),
    el("tr", {}, el("th", {}, "hash"), el("td", { class: "mono" }, record.hash)),
    el("tr", {}, el("th", {}, "parent"), el("td", { class: "mono" }, record.parent)),
    el("tr", {}, el("th", {}, "chain"), el("td", { id: "chain", class: linked ? "state-ok" : "state-bad" },
      linked ? "linked: its parent is the hash of the record before it" : "BROKEN: its parent is not the record before it")),
  )));
}

async function overview() {
  const at = selected();
  const from = Math.max(0, at - RECORDS_SHOWN + 1);
  const data = await gql(`query($from: Int!, $first: Int!, $at: Int!, $nodes: Int!) {
      records(from: $from, first: $first) { records { ${RECORD_FIELDS} } }
      graph(at: $at, first: $nodes) { atSeq digest nodeCount nodes { id kind version } }
      processes(all: true, first: 100) { items { id goal status detail jobsDone jobs submittedMs } }
      workspaces(first: 200) { items { id parent baseSeq state endedSeq discardReason writes } } }`,
    { from, first: at - from + 1, at, nodes: NODES_SHOWN });
  const records = data.records.records.filter((r) => r.seq <= at);
  const current = records.find((r) => r.seq === at);
  const previous = records.find((r) => r.seq === at - 1);
  // What existed at the selected seq: a process or workspace is made by the record of its id.
  const processes = data.processes.items.filter((p) => p.id <= at);
  const workspaces = data.workspaces.items.filter((w) => w.id <= at);
  const ended = (w) => w.endedSeq !== null && w.endedSeq <= at;
  return [
    el("div", { class: "row" },
      inspector(current, previous),
      card(`Records up to ${at}`, table(["seq", "kind", "what", "who"], records.slice().reverse().map((r) =>
        el("tr", { class: r.seq === at ? "selected" : "", onclick: () => moveTo(r.seq) },
          el("td", {}, r.seq), el("td", { class: "mono" }, r.kind), el("td", {}, r.summary), el("td", {}, actor(r.actor))))))),
    el("div", { class: "row" },
      card(`Processes (${processes.length})`, table(["id", "goal", "now", "jobs"], processes.map((p) =>
        el("tr", {}, el("td", {}, el("a", { href: `#/process/${p.id}` }, p.id)), el("td", {}, p.goal),
          el("td", { class: stateClass(p.status) }, p.status.toLowerCase() + (p.detail ? `: ${p.detail}` : "")),
          el("td", {}, `${p.jobsDone}/${p.jobs}`))))),
      card(`Workspaces (${workspaces.length})`, table(["id", "over", `at seq ${at}`, "writes"], workspaces.map((w) => {
        const now = ended(w) ? w.state.toLowerCase() : "open";
        return el("tr", {}, el("td", {}, el("a", { href: `#/workspace/${w.id}` }, w.id)),
          el("td", {}, w.parent ? `workspace ${w.parent}` : `system @${w.baseSeq}`),
          el("td", { class: stateClass(now) }, now + (ended(w) && w.discardReason ? `: ${w.discardReason}` : "")),
          el("td", {}, w.writes));
      })))),
    card(`Graph at seq ${data.graph.atSeq}: ${data.graph.nodeCount} nodes, digest ${data.graph.digest.slice(0, 16)}…`,
      table(["node", "kind", "version"], data.graph.nodes.map((n) =>
        el("tr", {}, el("td", { class: "mono" }, n.id), el("td", {}, n.kind), el("td", {}, n.version)))),
      data.graph.nodeCount > NODES_SHOWN ? el("p", { class: "muted" }, `the first ${NODES_SHOWN} by id`) : null),
  ];
}

// The plan's jobs as a DAG: each job one column right of the latest job it waits for.
function dag(jobs) {
  const level = [];
  jobs.forEach((job, i) => { level[i] = job.after.reduce((m, a) => Math.max(m, (level[a] ?? 0) + 1), 0); });
  const rows = {};
  const place = jobs.map((job, i) => { const row = rows[level[i]] = (rows[level[i]] ?? -1) + 1; return { x: level[i] * 200 + 10, y: row * 56 + 10 }; });
  const width = (Math.max(0, ...level) + 1) * 200 + 20;
  const height = (Math.max(0, ...Object.values(rows)) + 1) * 56 + 20;
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("class", "dag");
  svg.setAttribute("width", width);
  svg.setAttribute("height", height);
  const add = (tag, attrs, text) => {
    const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    if (text) node.textContent = text;
    svg.append(node);
  };
  jobs.forEach((job, i) => job.after.forEach((a) =>
    add("line", { x1: place[a].x + 170, y1: place[a].y + 20, x2: place[i].x, y2: place[i].y + 20 })));
  jobs.forEach((job, i) => {
    add("rect", { x: place[i].x, y: place[i].y, width: 170, height: 42, class: stateClass(job.status) });
    // A job's id is its path in the decomposition: its last step names it.
    add("text", { x: place[i].x + 6, y: place[i].y + 16 }, `${job.id.split("/").pop()} · ${jobKind(job)}`.slice(0, 28));
    add("text", { x: place[i].x + 6, y: place[i].y + 33, class: stateClass(job.status) }, job.state.slice(0, 28));
  });
  return svg;
}

const PROCESS_QUERY = `query($id: Int!) {
  process(id: $id) { summary { id goal status detail plan plans jobsDone jobs attempts submittedMs }
    params { name value } question wanted waitingFiles explain
    jobs { id lane kind worker status state after ruling } lanes { lane path state sws } environment { name value } }
  processLog(id: $id, first: 1000) { records { ${RECORD_FIELDS} } } }`;

// Each job's attempts, by the job's index, from the process's dispatch records.
function attemptsByJob(records) {
  const attempts = {};
  for (const r of records) {
    const found = r.kind === "job.dispatch" && r.summary.match(/^attempt (\d+):.* job #(\d+)/);
    if (found) (attempts[Number(found[2]) - 1] ??= []).push(Number(found[1]));
  }
  return attempts;
}

async function attemptCard(attempt, log) {
  const data = await gql(`query($id: Int!) { job(id: $id) { id worker args sws effect state status }
      stdout: jobOutput(id: $id, name: "stdout") stderr: jobOutput(id: $id, name: "stderr")
      log: jobOutput(id: $id, name: "worker-log")
      transcript: jobOutput(id: $id, name: "transcript", tailBytes: ${TRANSCRIPT_BYTES_MAX}) }`, { id: attempt });
  const job = data.job;
  if (!job) return card(`Attempt ${attempt}`, el("p", { class: "muted" }, "no such attempt"));
  const output = (name, text) => text ? [el("h3", {}, name), el("pre", { class: `output-${name}` }, text)] : [];
  // A model call is a job.fetch of the attempt, with what it was charged.
  const calls = log.filter((r) => r.kind === "job.fetch" && r.summary.startsWith(`attempt ${attempt} fetched`));
  return card(`Attempt ${attempt}: ${job.worker} ${job.args.join(" ")}`,
    el("p", { id: "attempt-state", class: stateClass(job.status) }, job.state),
    el("p", { class: "muted" }, `workspace ${job.sws} · effect ${job.effect.toLowerCase()}`),
    transcriptView(data.transcript, calls),
    output("stdout", data.stdout), output("stderr", data.stderr), output("log", data.log));
}

// The llm worker's transcript artifact is at most 256 KiB.
const TRANSCRIPT_BYTES_MAX = 262144;

// An agent job's conversation: each message, its tool calls and their results, each
// turn's tokens, and each model call with what it was charged.
function transcriptView(text, calls) {
  if (!text && !calls.length) return [];
  let t = {};
  try { t = text ? JSON.parse(text) : {}; } catch (e) { return [el("h3", {}, "transcript"), el("pre", {}, text)]; }
  const content = (value) => typeof value === "string" ? value : JSON.stringify(value);
  const messages = (Array.isArray(t.messages) ? t.messages : []).filter((m) => m && typeof m === "object").map((m) => el("div", { class: `message role-${m.role}` },
    el("b", {}, m.role), m.tool_call_id ? el("span", { class: "muted" }, ` (${m.tool_call_id})`) : null,
    m.content ? el("pre", {}, content(m.content)) : null,
    (Array.isArray(m.tool_calls) ? m.tool_calls : []).map((c) => {
      // Any worker may leave an artifact named `transcript`: read it without trusting it.
      const call = (c && c.function) || {};
      return el("pre", { class: "tool-call" }, `→ ${call.name ?? "?"}(${content(call.arguments ?? "")})`);
    })));
  const count = (n) => Number.isFinite(n) ? n : 0;
  const tokens = (Array.isArray(t.turns) ? t.turns : []).reduce((sum, turn) =>
    sum + (turn && turn.usage ? count(turn.usage.prompt_tokens) + count(turn.usage.completion_tokens) : 0), 0);
  return [el("h3", {}, `transcript: ${t.model || "?"} at ${t.endpoint || "?"}`),
    t.cut ? el("p", { class: "muted" }, "cut to fit: middle messages left out") : null,
    el("div", { id: "transcript" }, messages),
    table(["turn", "finish", "prompt tokens", "completion tokens"], (Array.isArray(t.turns) ? t.turns : []).filter((turn) => turn && typeof turn === "object").map((turn) =>
      el("tr", {}, el("td", {}, turn.turn), el("td", {}, turn.finish_reason || ""),
        el("td", {}, turn.usage ? turn.usage.prompt_tokens : "not reported"), el("td", {}, turn.usage ? turn.usage.completion_tokens : "")))),
    el("p", {}, `${tokens} tokens reported in all`),
    el("h3", {}, "model calls and their charges"),
    el("ul", { id: "model-calls" }, calls.map((r) => el("li", { class: "mono" }, `seq ${r.seq}: ${r.summary}`)))];
}

async function processView(id, attempt) {
  const at = selected();
  const data = await gql(PROCESS_QUERY, { id });
  const p = data.process;
  if (!p) return [card(`Process ${id}`, el("p", { class: "muted" }, "no such process"))];
  const log = data.processLog.records.filter((r) => r.seq <= at);
  const attempts = attemptsByJob(log);
  // What the process waits for says how to answer it (`jitos approve`, a value, or retry/skip/fail).
  const waitingApproval = p.summary.status === "WAITING" && (p.wanted || "").includes("jitos approve");
  const shown = [
    card(`Process ${id}: ${p.summary.goal}`,
      el("p", {}, "now ", el("b", { id: "process-status", class: stateClass(p.summary.status) }, p.summary.status.toLowerCase()),
        p.summary.detail ? `: ${p.summary.detail}` : "",
        ` · plan ${p.summary.plan} of ${p.summary.plans} · ${p.summary.jobsDone}/${p.summary.jobs} jobs · ${p.summary.attempts} attempts`),
      p.params.length ? el("p", { class: "mono" }, p.params.map((x) => `${x.name} = ${x.value}`).join("  ")) : null,
      el("p", {}, el("a", { href: `#/compare/${id}/${id}` }, "compare with another run…")),
      dag(p.jobs)),
  ];
  if (attempt !== null) shown.push(await attemptCard(attempt, log));
  if (p.summary.status === "WAITING") shown.push(waitingCard(id, p, waitingApproval));
  shown.push(el("div", { class: "row" },
    card("Jobs", table(["job", "lane", "kind", "state", "attempts", "ruling"], p.jobs.map((j, i) =>
      el("tr", {}, el("td", { class: "mono" }, short(j.id)), el("td", {}, j.lane), el("td", {}, jobKind(j)),
        el("td", { class: stateClass(j.status) }, j.state),
        el("td", {}, (attempts[i] || []).map((a) => el("a", { class: "attempt", href: `#/process/${id}/attempt/${a}` }, a, " "))),
        el("td", { class: "muted" }, j.ruling || ""))))),
    card("Lanes", table(["lane", "alternative", "state", "workspace"], p.lanes.map((l) =>
      el("tr", { class: "lane" }, el("td", {}, l.lane), el("td", { class: "mono" }, short(l.path)),
        el("td", { class: "lane-state " + stateClass(l.state) }, l.state.toLowerCase()),
        el("td", {}, l.sws ? el("a", { href: `#/workspace/${l.sws}` }, l.sws) : "")))))));
  shown.push(card(`Decisions and records up to seq ${at}`, table(["seq", "kind", "what", "who"], log.map((r) =>
    el("tr", { class: r.seq === at ? "selected" : "", onclick: () => moveTo(r.seq) }, el("td", {}, r.seq),
      el("td", { class: "mono" }, r.kind), el("td", {}, r.summary), el("td", {}, actor(r.actor)))))));
  shown.push(card("Plans", el("pre", {}, p.explain)));
  shown.push(card("Environment at submit", p.environment
    ? table(["", ""], p.environment.map((x) => el("tr", {}, el("td", {}, x.name), el("td", { class: "mono" }, x.value))))
    : el("p", { class: "muted" }, "not recorded: submitted before environments were")));
  return shown;
}

function waitingCard(id, p, approval) {
  const note = el("input", { id: "vote-note", placeholder: approval ? "a note, or the reason to reject" : "answer (JSON)", size: 48 });
  const said = el("span", { id: "vote-said" });
  const vote = (approve) => async () => {
    try {
      const reply = approve
        ? await gql("mutation($id: Int!, $note: String!) { approveProcess(id: $id, note: $note) }", { id, note: note.value })
        : await gql("mutation($id: Int!, $reason: String!) { rejectProcess(id: $id, reason: $reason) }", { id, reason: note.value || "rejected in the viewer" });
      said.textContent = "recorded at seq " + JSON.stringify(reply).match(/"seq":(\d+)/)?.[1];
      said.className = "state-ok";
      setTimeout(render, 300);
    } catch (e) {
      said.textContent = e.message;
      said.className = "error";
    }
  };
  const answer = (kind) => async () => {
    try {
      await gql("mutation($id: Int!, $answer: AnswerKind!, $value: String) { answerProcess(id: $id, answer: $answer, value: $value) }",
        { id, answer: kind, value: kind === "VALUE" ? note.value : null });
      said.textContent = "answered";
      said.className = "state-ok";
      setTimeout(render, 300);
    } catch (e) {
      said.textContent = e.message;
      said.className = "error";
    }
  };
  const failed = !approval && (p.wanted || "").includes('"retry"');
  const buttons = approval
    ? [el("button", { id: "approve", onclick: vote(true) }, "Approve"), el("button", { id: "reject", onclick: vote(false) }, "Reject")]
    : failed
      ? [el("button", { id: "retry", onclick: answer("RETRY") }, "Retry"), el("button", { id: "skip", onclick: answer("SKIP") }, "Skip"),
         el("button", { id: "fail", onclick: answer("FAIL") }, "Fail")]
      : [el("button", { id: "answer", onclick: answer("VALUE") }, "Answer")];
  return card("Waiting for a person",
    el("p", {}, p.question || p.summary.detail || ""),
    p.waitingFiles.length ? el("pre", {}, p.waitingFiles.join("\n")) : null,
    el("div", { class: "actions" }, failed ? null : note, buttons, said));
}

async function workspaceView(id) {
  const data = await gql(`query($id: Int!) { workspace(id: $id) {
      summary { id parent baseSeq depth state endedSeq discardReason overlayEntries reads writes }
      changes { key base now } files hold } }`, { id });
  const w = data.workspace;
  if (!w) return [card(`Workspace ${id}`, el("p", { class: "muted" }, "no such workspace"))];
  const s = w.summary;
  const files = w.files || [];
  return [
    card(`Workspace ${id}`, el("p", {},
      el("b", { class: stateClass(s.state) }, s.state.toLowerCase()), s.discardReason ? `: ${s.discardReason}` : "",
      ` · over ${s.parent ? "workspace " + s.parent : "the system"} at seq ${s.baseSeq}`,
      ` · ${s.overlayEntries} overlay entries, ${s.reads} reads, ${s.writes} writes`),
      w.hold ? el("pre", {}, JSON.stringify(w.hold, null, 2)) : null),
    el("div", { class: "row" },
      card(`Files changed (${files.length})`, el("pre", {}, files.map((f) => fileLine(f)).join("\n") || "none, or the workspace has ended")),
      card(`Graph changes (${w.changes.length})`, table(["key", "base", "now"], w.changes.map((c) =>
        el("tr", {}, el("td", { class: "mono" }, c.key), el("td", { class: "mono diff-del" }, c.base), el("td", { class: "mono diff-add" }, c.now)))))),
  ];
}

function fileLine(change) {
  // A tree change is {"Added": {...}}, {"Modified": {...}} or {"Removed": {...}}.
  const [kind, body] = Object.entries(change)[0] || ["?", {}];
  const path = body && (body.path || (body.entry && body.entry.path)) || JSON.stringify(body);
  return `${kind.toLowerCase().padEnd(9)} ${path}`;
}

const COMPARE_QUERY = `query($a: Int!, $b: Int!) { compare(a: $a, b: $b) {
  a { summary { id goal status plan plans attempts } params { name value } tookMs environmentRecorded partial }
  b { summary { id goal status plan plans attempts } params { name value } tookMs environmentRecorded partial }
  plansDiff jobs { id kind worker differs a { status state attempts tookMs } b { status state attempts tookMs } }
  files { name a b differs } environment { name a b differs } } }`;

async function compareView(a, b) {
  const picker = el("form", { class: "actions", onsubmit: (e) => { e.preventDefault(); location.hash = `#/compare/${e.target.a.value}/${e.target.b.value}`; } },
    "compare process", el("input", { name: "a", value: a, size: 6 }), "with", el("input", { name: "b", value: b, size: 6 }), el("button", {}, "Compare"));
  const c = (await gql(COMPARE_QUERY, { a, b })).compare;
  if (!c) return [picker, card("Compare", el("p", { class: "muted" }, `process ${a} or ${b} does not exist`))];
  const seconds = (ms) => `${(ms / 1000).toFixed(2)} s`;
  const side = (name, s) => card(`${name}: process ${s.summary.id} · ${s.summary.goal}`,
    el("p", {}, el("b", { class: stateClass(s.summary.status) }, s.summary.status.toLowerCase()),
      ` · ${seconds(s.tookMs)} · plan ${s.summary.plan} of ${s.summary.plans} · ${s.summary.attempts} attempts`),
    el("p", { class: "mono" }, s.params.map((x) => `${x.name} = ${x.value}`).join("  ")),
    el("p", {}, el("a", { href: `#/process/${s.summary.id}` }, "open the process")));
  const run = (r) => r ? el("span", { class: stateClass(r.status) }, `${r.state} · ${r.attempts} attempt${r.attempts === 1 ? "" : "s"} · ${seconds(r.tookMs)}`)
    : el("span", { class: "muted" }, "not in its plan");
  const named = (items, absent) => table(["", "A", "B"], items.map((x) =>
    el("tr", { class: x.differs ? "differs" : "" }, el("td", {}, x.name),
      el("td", { class: "mono" }, x.a ?? absent), el("td", { class: "mono" }, x.b ?? absent))));
  const same = (items) => `${items.filter((x) => !x.differs).length} the same, ${items.filter((x) => x.differs).length} differ`;
  const unrecorded = [["A", c.a], ["B", c.b]].filter(([, s]) => !s.environmentRecorded).map(([n]) => n);
  const partial = [["A", c.a], ["B", c.b]].filter(([, s]) => s.partial).map(([n]) => n);
  return [picker,
    el("div", { class: "compare" }, side("A", c.a), side("B", c.b)),
    partial.length ? el("p", { class: "muted" }, `${partial.join(" and ")} compared on part of itself: its log or its collapses are longer than a comparison reads`) : null,
    card("Jobs", table(["job", "kind", "A", "B"], c.jobs.map((j) =>
      el("tr", { class: j.differs ? "differs" : "" }, el("td", { class: "mono" }, short(j.id)), el("td", {}, jobKind(j)), el("td", {}, run(j.a)), el("td", {}, run(j.b)))))),
    card(`Files changed in the system: ${same(c.files)}`, named(c.files, "unchanged")),
    card(`Environment: ${same(c.environment)}`,
      unrecorded.length ? el("p", { class: "muted" }, `not recorded for ${unrecorded.join(" and ")}: submitted before environments were`) : null,
      el("div", { id: "compare-environment" }, named(c.environment, "absent"))),
    card("Plans", c.plansDiff.length
      ? el("pre", { class: "plans-diff" }, c.plansDiff.map((line) => el("span", { class: line[0] === "-" ? "removed" : line[0] === "+" ? "added" : "" }, line + "\n")))
      : el("p", {}, "the same"))];
}

// ---- start -----------------------------------------------------------------------------

(function start() {
  // A token may come in the address's fragment (never sent to a server): keep it, drop it from the address.
  const fragment = location.hash.match(/token=([A-Za-z0-9_]+)/);
  if (fragment) {
    history.replaceState(null, "", location.pathname + "#/");
    // A link must not quietly make this browser someone else.
    if (!state.token || state.token === fragment[1] || confirm("Sign in with the token in this link, instead of yours?")) {
      state.token = fragment[1];
      localStorage.setItem(TOKEN_KEY, state.token);
    }
  }
  if (!state.token) return signOut();
  signIn().catch((e) => { if (e.message !== "unauthenticated") signOut(e.message); });
})();
