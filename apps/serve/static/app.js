// rnn-apps web page: a tab per app, built from GET /v1/models, answering through the REST API.
// Everything shown from a model or a user is set as text (never as HTML).
"use strict";

const HEADLINE_KEYS = ["label", "keyword", "translation", "caption", "text", "summary"];
const ACCEPT = { audio: "audio/*,.wav,.flac,.ogg", image: "image/*", video: "video/*,.mp4,.webm,.avi,.gif", csv: ".csv,text/csv" };

function el(tag, attributes = {}, children = []) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (key === "text") node.textContent = value;
    else if (key === "class") node.className = value;
    else if (value !== undefined && value !== null && value !== false) node.setAttribute(key, value);
  }
  for (const child of children) if (child) node.append(child);
  return node;
}

function title(name) {
  return name.replace(/_/g, " ").replace(/^./, (c) => c.toUpperCase());
}

function format(value, digits = 3) {
  return typeof value === "number" ? value.toFixed(digits) : "–";
}

function bytesToBase64(buffer) {
  const bytes = new Uint8Array(buffer);
  let text = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    text += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  }
  return btoa(text);
}

// A recording as 16-bit mono PCM WAV: what every audio reader on the server understands.
function encodeWav(audioBuffer) {
  const length = audioBuffer.length;
  const mono = new Float32Array(length);
  for (let c = 0; c < audioBuffer.numberOfChannels; c++) {
    const data = audioBuffer.getChannelData(c);
    for (let i = 0; i < length; i++) mono[i] += data[i] / audioBuffer.numberOfChannels;
  }
  const view = new DataView(new ArrayBuffer(44 + 2 * length));
  const text = (offset, s) => [...s].forEach((ch, i) => view.setUint8(offset + i, ch.charCodeAt(0)));
  text(0, "RIFF");
  view.setUint32(4, 36 + 2 * length, true);
  text(8, "WAVE");
  text(12, "fmt ");
  view.setUint32(16, 16, true);
  view.setUint16(20, 1, true); // PCM
  view.setUint16(22, 1, true); // mono
  view.setUint32(24, audioBuffer.sampleRate, true);
  view.setUint32(28, audioBuffer.sampleRate * 2, true);
  view.setUint16(32, 2, true);
  view.setUint16(34, 16, true);
  text(36, "data");
  view.setUint32(40, 2 * length, true);
  for (let i = 0; i < length; i++) {
    view.setInt16(44 + 2 * i, Math.max(-1, Math.min(1, mono[i])) * 0x7fff, true);
  }
  return new Blob([view], { type: "audio/wav" });
}

function metricsBlock(model) {
  const metrics = model.metrics;
  if (!metrics) return el("p", { class: "muted", text: "No metrics.json yet." });
  const table = el("table", { class: "metrics" }, [
    el("thead", {}, [
      el("tr", {}, [
        el("th", { text: "engine" }),
        el("th", { text: `test ${metrics.metric}` }),
        el("th", { text: "size" }),
        el("th", { text: "latency p50" }),
      ]),
    ]),
  ]);
  const body = el("tbody");
  for (const row of metrics.rows) {
    body.append(
      el("tr", {}, [
        el("td", { text: row.engine }),
        el("td", { text: format(row.value) }),
        el("td", { text: row.size_bytes ? `${(row.size_bytes / 1e6).toFixed(2)} MB` : "" }),
        el("td", { text: row.latency_ms_p50 ? `${row.latency_ms_p50.toFixed(2)} ms` : "" }),
      ]),
    );
  }
  table.append(body);
  const note = el("p", {
    class: "muted",
    text: `Measured on the test split (preset ${metrics.preset ?? "?"}, data ${metrics.data ?? "?"}).`,
  });
  return el("div", { class: "metrics-block" }, [table, note]);
}

// The PNG figures the model's training run left in its folder (training curves, confusion
// matrix, scores per group, the app's own picture), each opening full size on a click.
function runFiguresBlock(model) {
  const names = model.run_figures || [];
  if (!names.length) return null;
  const grid = el("div", { class: "run-figures" });
  for (const name of names) {
    const src = `/v1/models/${encodeURIComponent(model.name)}/figures/${encodeURIComponent(name)}`;
    const image = el("img", { src, alt: name, loading: "lazy" });
    grid.append(
      el("figure", { class: "run-figure", "data-name": name }, [
        el("a", { href: src, target: "_blank", rel: "noopener" }, [image]),
        el("figcaption", { text: name }),
      ]),
    );
  }
  return el("details", { class: "run-figures-block", open: true }, [
    el("summary", { text: `Figures of the training run (${names.length}, saved in its model folder)` }),
    grid,
  ]);
}

function untrainedBlock(model) {
  return el("div", { class: "untrained-box" }, [
    el("p", { text: `The ${model.name} app has not been trained yet. Train it with:` }),
    el("pre", { class: "command", text: model.train_command }),
    el("p", { class: "muted", text: "or train every app at once with: make demo. Then reload this page." }),
  ]);
}

function optionInput(option) {
  const id = `option-${Math.random().toString(36).slice(2)}`;
  let input;
  if (option.type === "boolean") {
    // The music tab asks for its tune as a WAV (the "wav" option) so that the page can play it.
    input = el("input", { type: "checkbox", id, checked: option.default === true || option.name === "wav" });
  } else if (option.enum) {
    input = el("select", { id }, option.enum.map((v) => el("option", { value: v, text: v })));
    if (option.default) input.value = option.default;
  } else {
    input = el("input", {
      type: "number",
      id,
      min: option.minimum,
      max: option.maximum,
      step: option.type === "integer" ? 1 : "any",
      value: option.default ?? "",
    });
  }
  input.dataset.option = option.name;
  input.dataset.type = option.type;
  return el("label", { class: "option", for: id, title: option.description }, [
    el("span", { text: option.name.replace(/_/g, " ") }),
    input,
  ]);
}

function readOptions(panel) {
  const parameters = {};
  for (const input of panel.querySelectorAll("[data-option]")) {
    const name = input.dataset.option;
    if (input.dataset.type === "boolean") parameters[name] = input.checked;
    else if (input.tagName === "SELECT") parameters[name] = input.value;
    else if (input.value !== "") parameters[name] = Number(input.value);
  }
  return parameters;
}

function textInput(model, state) {
  const area = el("textarea", { class: "text-input", rows: 3, placeholder: "Type here…" });
  if (model.examples.length) area.value = model.examples[0];
  state.instance = () => area.value;
  const examples = el("div", { class: "examples" }, [el("span", { class: "muted", text: "Examples: " })]);
  for (const example of model.examples) {
    const button = el("button", { type: "button", class: "example", text: example || "(empty)" });
    button.addEventListener("click", () => (area.value = example));
    examples.append(button);
  }
  return el("div", { class: "input" }, [area, model.examples.length ? examples : null]);
}

function fileInput(model, state) {
  // A CSV shows its first lines; media files play or show themselves.
  const tag = model.kind === "image" ? "img" : model.kind === "csv" ? "pre" : model.kind;
  const preview = el(tag, { class: "preview", alt: "" });
  if (model.kind === "audio" || model.kind === "video") preview.controls = true;
  preview.hidden = true;
  const status = el("span", { class: "file-status muted", text: "No file chosen." });
  const use = async (blob, name) => {
    state.data = bytesToBase64(await blob.arrayBuffer());
    status.textContent = `${name} (${(blob.size / 1024).toFixed(1)} kB)`;
    if (model.kind === "csv") {
      const lines = (await blob.text()).split("\n");
      preview.textContent = lines.slice(0, 6).join("\n") + (lines.length > 7 ? "\n…" : "");
    } else {
      preview.src = URL.createObjectURL(blob);
    }
    preview.hidden = false;
  };
  state.instance = () => (state.data ? { b64: state.data } : null);
  const file = el("input", { type: "file", class: "file-input", accept: ACCEPT[model.kind] });
  file.addEventListener("change", () => file.files[0] && use(file.files[0], file.files[0].name));
  const controls = el("div", { class: "file-controls" }, [file]);
  for (let i = 0; i < model.samples; i++) {
    const button = el("button", { type: "button", class: "sample", text: `generated sample ${i + 1}` });
    button.addEventListener("click", async () => {
      const response = await fetch(`/ui/samples/${model.name}/${i}`);
      if (response.ok) await use(await response.blob(), `generated sample ${i + 1}`);
    });
    controls.append(button);
  }
  if (model.kind === "audio" && navigator.mediaDevices && window.MediaRecorder) {
    controls.append(recordButton(use));
  }
  return el("div", { class: "input" }, [controls, status, preview]);
}

function recordButton(use) {
  const button = el("button", { type: "button", class: "record", text: "● record" });
  let recorder = null;
  button.addEventListener("click", async () => {
    if (recorder) {
      recorder.stop();
      return;
    }
    const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    const chunks = [];
    recorder = new MediaRecorder(stream);
    recorder.addEventListener("dataavailable", (event) => chunks.push(event.data));
    recorder.addEventListener("stop", async () => {
      stream.getTracks().forEach((track) => track.stop());
      recorder = null;
      button.textContent = "● record";
      const context = new AudioContext();
      const decoded = await context.decodeAudioData(await new Blob(chunks).arrayBuffer());
      await context.close();
      await use(encodeWav(decoded), "recording.wav");
    });
    recorder.start();
    button.textContent = "■ stop";
  });
  return button;
}

function renderAnswer(model, prediction, answer) {
  answer.replaceChildren();
  if (prediction.events) {
    const list = el("ul", { class: "events" });
    for (const event of prediction.events) {
      const line =
        event.keyword == null
          ? "no keyword detected"
          : `${event.keyword} at ${format(event.time, 2)} s (score ${format(event.score, 2)})`;
      list.append(el("li", { text: line }));
    }
    answer.append(el("p", { class: "headline", "data-key": "events", text: `${prediction.events.length} result(s)` }), list);
  } else {
    const key = HEADLINE_KEYS.find((k) => k in prediction);
    const headline = el("p", { class: "headline", "data-key": key ?? "" });
    if (key === "text" && model.kind === "text") {
      headline.append(el("span", { class: "prompt", text: prediction.input }), el("span", { text: prediction.text }));
    } else {
      headline.textContent = key ? String(prediction[key] ?? "(nothing)") : "(answered)";
    }
    answer.append(headline);
    // The answer's other short fields (a rating, frames read, unknown words ...) on one line.
    const facts = [];
    if (typeof prediction.score === "number") facts.push(`score ${prediction.score.toFixed(3)}`);
    for (const [name, value] of Object.entries(prediction)) {
      if (["input", "score", key].includes(name)) continue;
      if (typeof value === "number") facts.push(`${name.replace(/_/g, " ")} ${value}`);
      else if (typeof value === "string" && value.length < 80) facts.push(`${name.replace(/_/g, " ")}: ${value}`);
      else if (Array.isArray(value) && value.every((v) => typeof v === "string")) {
        facts.push(`${name.replace(/_/g, " ")}: ${value.join(", ")}`);
      }
    }
    if (facts.length) answer.append(el("p", { class: "score", text: facts.join(" · ") }));
    if (prediction.probabilities) {
      const bars = el("div", { class: "bars" });
      for (const [name, p] of Object.entries(prediction.probabilities)) {
        const bar = el("span", { class: "bar" });
        bar.style.width = `${Math.round(100 * p)}%`;
        bars.append(el("div", { class: "bar-row", "data-class": name }, [
          el("span", { class: "bar-name", text: name }),
          el("span", { class: "bar-track" }, [bar]),
          el("span", { class: "bar-value", text: p.toFixed(3) }),
        ]));
      }
      answer.append(bars);
    }
  }
  if (prediction.figure) {
    answer.append(el("img", { class: "figure", alt: "figure", src: `data:${prediction.figure.content_type};base64,${prediction.figure.b64}` }));
  }
  if (prediction.wav) {
    // A generated tune (music): play it.
    answer.append(el("audio", { class: "tune", controls: true, src: `data:audio/wav;base64,${prediction.wav}` }));
  }
  const shown = { ...prediction };
  delete shown.figure;
  answer.append(el("details", {}, [el("summary", { text: "JSON answer" }), el("pre", { text: JSON.stringify(shown, null, 2) })]));
}

async function run(model, panel, state, answer) {
  const instance = state.instance();
  if (instance === null || instance === undefined) {
    answer.dataset.state = "error";
    answer.replaceChildren(el("p", { class: "error", text: "Choose an input first." }));
    return;
  }
  const parameters = readOptions(panel);
  if (model.figure) parameters.figure = true;
  answer.dataset.state = "running";
  answer.replaceChildren(el("p", { class: "muted", text: "Answering…" }));
  try {
    const response = await fetch(`/v1/models/${encodeURIComponent(model.name)}:predict`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ instances: [instance], parameters }),
    });
    const body = await response.json().catch(() => ({ error: `HTTP ${response.status}` }));
    if (!response.ok) throw new Error(body.error || `HTTP ${response.status}`);
    renderAnswer(model, body.predictions[0], answer);
    answer.dataset.state = "done";
  } catch (error) {
    answer.dataset.state = "error";
    answer.replaceChildren(el("p", { class: "error", text: error.message }));
  }
}

function buildPanel(model) {
  const panel = el("section", { id: `panel-${model.name}`, class: "panel", role: "tabpanel", "data-app": model.name }, [
    el("h2", { text: model.task }),
    el("p", { class: "muted", text: `${model.pattern} · trained on ${model.data}` }),
  ]);
  if (!model.trained) {
    panel.append(untrainedBlock(model));
    return panel;
  }
  if (model.state !== "AVAILABLE" && model.error) {
    panel.append(el("p", { class: "error", text: model.error }));
  }
  const state = {};
  const input = model.kind === "text" ? textInput(model, state) : fileInput(model, state);
  const options = el("div", { class: "options" }, model.options.map(optionInput));
  const answer = el("div", { class: "answer", "aria-live": "polite", "data-state": "idle" });
  const button = el("button", { type: "button", class: "run", text: "Run" });
  button.addEventListener("click", () => run(model, panel, state, answer));
  panel.append(input, options, button, answer, metricsBlock(model));
  const figures = runFiguresBlock(model);
  if (figures) panel.append(figures);
  return panel;
}

function select(name) {
  for (const tab of document.querySelectorAll("#tabs [role=tab]")) {
    tab.setAttribute("aria-selected", String(tab.dataset.app === name));
  }
  for (const panel of document.querySelectorAll("#panels .panel")) panel.hidden = panel.dataset.app !== name;
  history.replaceState(null, "", `#${name}`);
}

async function start() {
  const panels = document.getElementById("panels");
  let listing;
  try {
    const response = await fetch("/v1/models");
    listing = await response.json();
  } catch (error) {
    panels.replaceChildren(el("p", { class: "error", text: `The server did not answer: ${error.message}` }));
    return;
  }
  document.getElementById("engine").textContent =
    `Recurrent-network apps, answered on this machine by their exported models (${listing.engine}` +
    (listing.engine === "litert" ? ` ${listing.variant})` : ")");
  panels.replaceChildren();
  const tabs = document.getElementById("tabs");
  for (const model of listing.models) {
    const tab = el("button", {
      type: "button",
      role: "tab",
      id: `tab-${model.name}`,
      class: model.trained ? "tab" : "tab untrained",
      "aria-controls": `panel-${model.name}`,
      text: title(model.name),
    });
    tab.dataset.app = model.name;
    tab.addEventListener("click", () => select(model.name));
    tabs.append(tab);
    panels.append(buildPanel(model));
  }
  const wanted = location.hash.slice(1);
  const names = listing.models.map((m) => m.name);
  if (names.length) select(names.includes(wanted) ? wanted : names[0]);
  document.body.dataset.ready = "true";
}

start();
