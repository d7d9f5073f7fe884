// tunesmith ui: the little JavaScript the pages need (no libraries, nothing from the network).
"use strict";

function text(id, value) {
  const node = document.getElementById(id);
  if (node) node.textContent = value; // textContent: data never becomes markup
}

function fixed(value, digits) {
  return typeof value === "number" ? value.toFixed(digits) : "–";
}

// The stage table's columns in the order the progress JSON lists them (the run order). A
// stage that starts mid-run (checks, export...) was not on the page when it loaded: it gets
// its column here, else it only showed after a reload. Existing columns are moved, not remade.
function layOutStages(stages) {
  const names = document.getElementById("stage-names");
  const cells = document.getElementById("stage-cells");
  if (!names || !cells) return;
  for (const stage of stages) {
    names.appendChild(document.getElementById("name-" + stage) || stageName(stage));
    cells.appendChild(document.getElementById("cell-" + stage) || stageCell(stage));
  }
}

function stageName(stage) {
  const head = document.createElement("th");
  head.id = "name-" + stage;
  head.textContent = stage;
  return head;
}

function stageCell(stage) {
  const cell = document.createElement("td");
  cell.id = "cell-" + stage;
  const status = document.createElement("span");
  status.id = "stage-" + stage; // filled in by the caller, as every other stage's is
  const seconds = document.createElement("span");
  seconds.id = "secs-" + stage;
  seconds.className = "muted small";
  cell.append(status, " ", seconds);
  return cell;
}

// Live progress on a run page: poll the progress JSON until the run stops.
function watchProgress(section) {
  async function poll() {
    let data;
    try {
      const response = await fetch(section.dataset.url, {cache: "no-store"});
      data = await response.json();
    } catch (err) {
      setTimeout(poll, 3000);
      return;
    }
    text("state", data.state);
    section.dataset.state = data.state;
    layOutStages(Object.keys(data.stages));
    for (const [stage, status] of Object.entries(data.stages)) {
      const cell = document.getElementById("stage-" + stage);
      if (cell) { cell.textContent = status; cell.className = "stage " + status; }
      const seconds = data.seconds[stage];
      text("secs-" + stage, seconds == null ? "" : seconds + " s");
    }
    const t = data.train;
    text("step", t.step);
    text("total", t.total_steps || "?");
    text("loss", fixed(t.loss, 4));
    text("val_ppl", fixed(t.val_ppl, 3));
    text("eta", t.eta_seconds == null ? "–" : t.eta_seconds + " s");
    document.getElementById("bar").value = t.percent || (data.state === "finished" ? 100 : 0);
    text("log", data.log_tail);
    const log = document.getElementById("log");
    if (log) log.scrollTop = log.scrollHeight;
    if (data.state === "running") setTimeout(poll, 1500);
    else if (data.state === "finished" && !document.getElementById("report-link")) location.reload();
  }
  if (section.dataset.state === "running" || section.dataset.state === "stopped") poll();
}

// Rating shortcuts: a / b / t / x press the matching button (not while typing a reason).
function shortcuts(form) {
  document.addEventListener("keydown", (event) => {
    if (event.target.tagName === "INPUT" || event.target.tagName === "TEXTAREA") return;
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const button = form.querySelector('button[data-key="' + event.key.toLowerCase() + '"]');
    if (button) { event.preventDefault(); button.click(); }
  });
}

// Playground: stream both models' answers (server-sent events over a POST).
async function streamInto(url, body, token, out) {
  out.textContent = "";
  out.dataset.done = "";
  const headers = {"Content-Type": "application/json", "X-Tunesmith-Token": token};
  const response = await fetch(url, {method: "POST", headers, body: JSON.stringify(body)});
  if (!response.ok) {
    const err = await response.json().catch(() => ({error: response.statusText}));
    out.textContent = "error: " + err.error;
    out.dataset.done = "1";
    return;
  }
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const {value, done} = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, {stream: true});
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const event = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      const data = event.split("\n").find((line) => line.startsWith("data: "));
      if (event.startsWith("event: error")) out.textContent += " [error]";
      else if (data && !event.startsWith("event:")) out.textContent += JSON.parse(data.slice(6)).text;
    }
  }
  out.dataset.done = "1"; // the answer is complete
}

function playground(form) {
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const body = {prompt: form.prompt.value, max_new_tokens: Number(form.max_new_tokens.value)};
    const token = form.token ? form.token.value : "";
    for (const out of document.querySelectorAll("pre.stream")) {
      streamInto(form.dataset.url, {...body, system: out.dataset.system}, token, out);
    }
  });
}

const progressSection = document.getElementById("progress");
if (progressSection) watchProgress(progressSection);
const rateForm = document.getElementById("rate-form");
if (rateForm) shortcuts(rateForm);
const playForm = document.getElementById("play-form");
if (playForm) playground(playForm);
