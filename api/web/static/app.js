// Placements ASE Paris: the pages' one script. Every figure and every refusal comes from the
// JSON API (the same routes, the same roles and the same checks as any other client); this
// script only signs in, asks, and shows the answers in French. No external asset.
"use strict";

const PAGE = document.body.dataset.page;

const ROLE_NAMES = {
  officer: "agent de placement", protection_officer: "agent (protection)", planner: "planificateur",
  structure_manager: "responsable de structure", administrator: "administrateur",
};
const LABELS = JSON.parse(document.getElementById("labels").textContent || "{}");
const SEX = { F: "fille", M: "garçon" };
const label = (v) => LABELS[v] || SEX[v] || v;
const STATUS = { held: "réservée", confirmed: "confirmée", cancelled: "annulée", expired: "expirée",
  queued: "en file", running: "en cours", succeeded: "terminé", failed: "échoué", cancelling: "annulation", cancelled_job: "annulé" };
const URGENCY = { urgent: "Urgent", normal: "Normale" };
const METHOD = { greedy: "affectation gloutonne", optimal: "affectation optimale", rebalance: "rééquilibrage",
  simulation: "simulation" };

// --- talking to the API ------------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, problem) {
    super((problem && (problem.detail || problem.title)) || `Erreur ${status}`);
    this.status = status; this.problem = problem || {};
  }
}

async function api(path, { method = "GET", json, raw = false } = {}) {
  const headers = { "Accept-Language": "fr" };
  let body;
  if (json !== undefined) { headers["Content-Type"] = "application/json"; body = JSON.stringify(json); }
  let res = await fetch(path, { method, headers, body, credentials: "same-origin" });
  if (res.status === 401 && await refresh()) res = await fetch(path, { method, headers, body, credentials: "same-origin" });
  if (res.status === 401) { window.location.assign("/web/sign-in?expired=1"); throw new ApiError(401, { detail: "Session expirée : reconnectez-vous." }); }
  if (!res.ok) {
    let problem = null;
    try { problem = await res.json(); } catch (e) { /* not JSON */ }
    throw new ApiError(res.status, problem);
  }
  if (raw) return res.text();
  return res.status === 204 ? null : res.json();
}

async function refresh() {
  const res = await fetch("/web/refresh", { method: "POST", credentials: "same-origin" });
  return res.ok;
}

function downloadLink(path, filename, text) {
  return el("a", { href: path, download: filename }, text);
}

// --- small helpers -----------------------------------------------------------------------------

const $ = (sel) => document.querySelector(sel);
function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") e.className = v; else if (k.startsWith("on")) e.addEventListener(k.slice(2), v); else e.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}
function say(text, error = false) { const m = $("#message"); m.textContent = text; m.classList.toggle("error", error); }
function sayError(err) { say(explainError(err), true); }
function explainError(err) {
  if (!(err instanceof ApiError)) return `Erreur inattendue : ${err.message}`;
  if (err.status === 409) return `Conflit : ${err.message}`;
  if (err.status === 403) return "Refusé : votre rôle ne permet pas cette action.";
  if (err.status === 404) return "Introuvable : cette fiche n'existe pas ou ne relève pas de votre service.";
  if (err.status === 413) return "Envoi trop volumineux.";
  if (err.status === 422) {
    const lines = (err.problem.errors || []).filter((e) => e.line);
    if (lines.length) return `Le scénario a ${lines.length} erreur(s) : ` + lines.map((e) => `ligne ${e.line}, ${e.field} : ${e.reason}`).join(" ; ") + ".";
    return `Saisie refusée : ${err.message}`;
  }
  if (err.status === 429) return "Trop de travaux en attente : réessayez dans un instant.";
  if (err.status === 503) return "Le service est momentanément indisponible : réessayez dans un instant.";
  return err.message;
}
const minutes = (m) => (m === null || m === undefined ? "injoignable" : `${Math.round(m)} min`);
const euros = (e) => (e === null || e === undefined ? "" : `${Math.round(e)} €`);
function when(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  return d.toLocaleString("fr-FR", { dateStyle: "medium", timeStyle: "short", timeZone: "Europe/Paris" });
}
function day(iso) { return iso ? new Date(iso).toLocaleDateString("fr-FR", { timeZone: "Europe/Paris" }) : ""; }
const params = (form) => { const p = new URLSearchParams(); for (const [k, v] of new FormData(form)) if (v !== "") p.append(k, v); return p; };

// --- start: who is here, which pages they have ---------------------------------------------------

async function start() {
  if (PAGE === "sign-in") return;
  const me = { role: document.body.dataset.role, service: document.body.dataset.service };
  const pages = { children: childrenPage, child: childPage, holds: holdsPage, places: placesPage,
    units: unitsPage, jobs: jobsPage, planning: planningPage };
  if (!pages[PAGE]) return;
  try { await pages[PAGE](me); } catch (err) { sayError(err); }
}

// --- officer: waiting children ------------------------------------------------------------------

async function childrenPage() {
  const form = $("#filters");
  const load = async () => {
    const data = await api(`/children?${params(form)}`);
    $("#count").textContent = `${data.total} enfant(s) en attente.`;
    const body = $("#children tbody"); body.replaceChildren();
    for (const c of data.items) {
      const target = c.sibling_group_id ? `/web/groups/${encodeURIComponent(c.sibling_group_id)}` : `/web/children/${encodeURIComponent(c.id)}`;
      body.append(el("tr", {},
        el("td", {}, el("a", { href: target }, c.id)),
        el("td", {}, c.urgency === "urgent" ? el("span", { class: "badge urgent" }, "Urgent") : "Normale"),
        el("td", {}, c.age_band), el("td", {}, label(c.sex)),
        el("td", {}, (c.needs || []).map(label).join(", ")),
        el("td", {}, c.sibling_group_id || ""), el("td", {}, day(c.waiting_since))));
    }
  };
  form.addEventListener("submit", (ev) => { ev.preventDefault(); load().catch(sayError); });
  await load();
}

// --- officer: one child or one fratrie ----------------------------------------------------------

async function childPage() {
  const [kind, id] = window.location.pathname.split("/").slice(2).map(decodeURIComponent);
  const subject = kind === "groups" ? { sibling_group_id: id } : { child_id: id };
  const base = kind === "groups" ? `/sibling-groups/${encodeURIComponent(id)}` : `/children/${encodeURIComponent(id)}`;
  document.querySelector("h1").textContent = kind === "groups" ? `Fratrie ${id}` : `Enfant ${id}`;
  const structures = await api("/structures").catch(() => ({ items: [] }));
  for (const s of structures.items) $("#why-structure").append(el("option", { value: s.id }, `${s.name} (${s.id})`));
  let shown = false;
  const load = async () => {
    const order = $("#order").value;
    const data = await api(`${base}/proposals?k=10&order=${order}`);
    if (!shown) {
      shown = true;
      const files = [];
      for (const c of data.child_ids) files.push(await api(`/children/${encodeURIComponent(c)}`));
      showFiles(files);
    }
    showProposals(data, subject);
    $("#map").innerHTML = await api(`${base}/map?k=10&order=${order}&area=idf`, { raw: true });
    const far = data.proposals.some((p) => p.placements.some((x) => x.travel_minutes === null || x.travel_minutes > 120));
    $("#map-france").innerHTML = far ? await api(`${base}/map?k=10&order=${order}&area=france`, { raw: true }) : "";
    $("#map-france-title").hidden = !far;
    $("#legend").replaceChildren(
      el("li", {}, el("span", { class: "swatch home" }), "quartier du domicile familial"),
      el("li", {}, el("span", { class: "swatch iso-30" }), "moins de 30 min en transports"),
      el("li", {}, el("span", { class: "swatch iso-60" }), "30 à 60 min"),
      el("li", {}, el("span", { class: "swatch iso-90" }), "60 à 90 min"));
  };
  $("#order-form").addEventListener("submit", (ev) => { ev.preventDefault(); load().catch(sayError); });
  $("#why-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      const data = await api(`${base}/proposals?k=10&why_not=${encodeURIComponent($("#why-structure").value)}`);
      $("#why-answer").textContent = data.why_not ? data.why_not.sentence : "";
    } catch (err) { sayError(err); }
  });
  await load();
}

function homeArea(h) {
  if (!h) return "aucun domicile connu";
  if (h.arrondissement) return `Paris ${h.arrondissement}${h.arrondissement === 1 ? "er" : "e"} arrondissement`;
  return `commune ${h.commune} (${h.departement})`;
}

function judgeWords(j) {
  if (!j) return "";
  const out = [];
  if (j.excluded_structures && j.excluded_structures.length) out.push(`structures exclues : ${j.excluded_structures.map((s) => s.name || s.id).join(", ")}`);
  if (j.excluded_departements && j.excluded_departements.length) out.push(`départements exclus : ${j.excluded_departements.join(", ")}`);
  if (j.max_travel_minutes) out.push(`au plus ${j.max_travel_minutes} min du domicile`);
  if (j.separated_from && j.separated_from.length) out.push(`séparé(e) de ${j.separated_from.join(", ")}`);
  return out.join(" ; ");
}

function showFiles(files) {
  const dl = $("#file"); dl.replaceChildren();
  for (const f of files) {
    const place = f.current_placement ? `${f.current_placement.structure_name || "lieu protégé"} depuis le ${day(f.current_placement.since)}` : "en attente";
    const rows = [
      ["Enfant", `${f.id} : ${f.age} ans (${f.age_band}), ${label(f.sex)}`],
      ["Besoins", (f.needs || []).map(label).join(", ") || "aucun besoin particulier"],
      ["Décisions du juge", judgeWords(f.judge) || "aucune"],
      ["Placement actuel", place], ["Domicile familial", homeArea(f.family_home)],
      ["Urgence", URGENCY[f.urgency] || f.urgency], ["En attente depuis", f.waiting ? day(f.waiting_since) : ""],
    ];
    for (const [k, v] of rows) if (v) dl.append(el("dt", {}, k), el("dd", {}, v));
  }
}

const ANCHOR = { family_home: "du domicile familial", school: "de l'école", service: "du service qui suit l'enfant",
  visit_site: "du lieu de visites médiatisées" };

function reasons(p, together) {
  // the proposal's reasons in plain French, from its machine fields (rounded numbers)
  const out = [];
  for (const x of p.placements) {
    if (!x.unit_id) { out.push(`${x.child_id} : pas de place dans cette proposition.`); continue; }
    out.push(`${x.child_id} : ${minutes(x.travel_minutes)} de trajet en transports ${ANCHOR[x.anchor] || ""}.`);
  }
  const c = Object.fromEntries((p.components || []).map((k) => [k.name, k]));
  if (p.placements.length > 1) out.push(together === false || p.structures_used > 1
    ? `Fratrie répartie sur ${p.structures_used} structures.` : "Fratrie accueillie ensemble.");
  if (c.outside_ile_de_france && c.outside_ile_de_france.quantity > 0) out.push("Hors d'Île-de-France.");
  else if (c.outside_paris && c.outside_paris.quantity > 0) out.push("Hors de Paris, en Île-de-France.");
  if (c.school_continuity && c.school_continuity.quantity > 0) out.push(`École actuelle à ${Math.round(c.school_continuity.quantity)} min.`);
  if (c.hotel_stay && c.hotel_stay.quantity > 0) out.push("Hôtel : solution à éviter.");
  if (c.daily_price) out.push(`Prix de journée : ${euros(c.daily_price.quantity)}.`);
  for (const w of [...(p.moves || []), ...(p.warnings || []), p.split_reason, p.explanation]) if (w) out.push(w);
  return out.join(" ");
}

function showProposals(data, subject) {
  const list = $("#proposals"); list.replaceChildren();
  if (!data.proposals.length) { list.append(el("li", {}, "Aucune place libre ne convient aujourd'hui.")); return; }
  data.proposals.forEach((p, i) => {
    const where = p.placements.filter((x) => x.unit_id).map((x) => `${x.child_id} : unité ${x.unit_id}`).join(" ; ");
    const stale = p.vacancies_stale ? el("span", { class: "badge stale", title: "Places déclarées il y a longtemps : à vérifier par téléphone" }, "déclaration ancienne") : null;
    const hold = el("button", { type: "button", onclick: () => holdProposal(p, subject) },
      subject.sibling_group_id ? "Réserver pour la fratrie" : "Réserver");
    hold.setAttribute("aria-label", `${hold.textContent} : proposition ${i + 1}, ${p.structure_name}`);
    list.append(el("li", {},
      el("p", {}, el("strong", {}, `${p.structure_name}`), ` (${p.structure_id}) `, stale),
      el("p", {}, where),
      el("p", { class: "reasons" }, reasons(p, p.siblings_together)),
      hold));
  });
}

async function holdProposal(p, subject) {
  // a child: the unit; a fratrie: the proposal's placements as they are, in one request, all or
  // nothing (a sibling left without a place has unit_id null, one who stays is listed where they live)
  const body = subject.child_id ? { child_id: subject.child_id, unit_id: p.placements[0].unit_id }
    : { sibling_group_id: subject.sibling_group_id,
        placements: p.placements.map((x) => ({ child_id: x.child_id, unit_id: x.unit_id })) };
  try {
    const r = await api("/reservations", { method: "POST", json: body });
    const where = r.parts && r.parts.length > 1 ? ` dans ${r.parts.length} unités` : "";
    say(`Place réservée${where} jusqu'au ${when(r.expires_at)} (réservation ${r.id}). Confirmez-la dans « Réservations ».`);
  } catch (err) {
    if (err.status === 409) say("Cette place n'est plus disponible : un autre agent vient de la réserver, ou elle a été occupée. Choisissez une autre proposition.", true);
    else sayError(err);
  }
}

// --- officer: my holds ----------------------------------------------------------------------------

async function holdsPage() {
  const names = await structureNames();
  const load = async () => {
    const data = await api("/reservations?limit=200");
    const body = $("#holds tbody"); body.replaceChildren();
    for (const r of data.items) {
      const act = r.status === "held" ? [
        el("button", { type: "button", onclick: () => act2(r.id, "confirm"), "aria-label": `Confirmer la réservation ${r.id}` }, "Confirmer"), " ",
        el("button", { type: "button", class: "secondary", onclick: () => act2(r.id, "cancel"), "aria-label": `Annuler la réservation ${r.id}` }, "Annuler")] : [];
      const where = (r.parts && r.parts.length ? r.parts : [r]).map((x) => names[x.structure_id] ? `${names[x.structure_id]} (${x.structure_id})` : x.structure_id);
      body.append(el("tr", {}, el("td", {}, r.id), el("td", {}, r.child_ids.join(", ")),
        el("td", {}, [...new Set(where)].join(" ; ")), el("td", {}, r.places),
        el("td", {}, STATUS[r.status] || r.status), el("td", {}, r.status === "held" ? when(r.expires_at) : ""),
        el("td", {}, r.created_by || ""), el("td", {}, act)));
    }
    if (!data.items.length) body.append(el("tr", {}, el("td", { colspan: 8 }, "Aucune réservation.")));
  };
  const act2 = async (id, what) => {
    try {
      await api(`/reservations/${encodeURIComponent(id)}/${what}`, { method: "POST" });
      say(what === "confirm" ? `Réservation ${id} confirmée : le placement est enregistré.` : `Réservation ${id} annulée : la place est libérée.`);
      await load();
    } catch (err) { sayError(err); }
  };
  await load();
}

async function structureNames() {
  const data = await api("/structures").catch(() => ({ items: [] }));
  return Object.fromEntries(data.items.map((x) => [x.id, x.name]));
}

// --- free places ----------------------------------------------------------------------------------

async function placesPage() {
  const form = $("#filters");
  const load = async () => {
    const q = params(form); q.set("limit", "200");
    const data = await api(`/places?${q}`);
    $("#count").textContent = `${data.free_places} place(s) libre(s) dans ${data.total} unité(s).`;
    const body = $("#places tbody"); body.replaceChildren();
    for (const p of data.items) {
      body.append(el("tr", {},
        el("td", {}, `${p.structure_name} (${p.unit_id})`), el("td", {}, label(p.structure_type)), el("td", {}, p.commune_name || p.commune),
        el("td", {}, `${p.age_min}-${p.age_max} ans`), el("td", {}, label(p.sex)), el("td", {}, p.free),
        el("td", {}, p.vacancies_stale ? el("span", { class: "badge stale" }, `ancienne (${day(p.vacancies_declared_at) || "jamais"})`) : day(p.vacancies_declared_at))));
    }
    $("#map").innerHTML = await api(`/places/map?${q}&area=idf`, { raw: true });
    $("#map-france").innerHTML = await api(`/places/map?${q}&area=france`, { raw: true });
  };
  form.addEventListener("submit", (ev) => { ev.preventDefault(); load().catch(sayError); });
  await load();
}

// --- structure manager: my units --------------------------------------------------------------------

async function unitsPage() {
  const load = async () => {
    const data = await api("/units?limit=1000");
    const body = $("#units tbody"); body.replaceChildren();
    for (const u of data.items) {
      const cap = el("input", { type: "number", min: 0, max: 10000, value: u.capacity, id: `cap-${u.id}`, "aria-label": `Capacité de l'unité ${u.id}` });
      const occ = el("input", { type: "number", min: 0, max: 10000, value: u.occupied, id: `occ-${u.id}`, "aria-label": `Places occupées de l'unité ${u.id}` });
      const save = el("button", { type: "button", onclick: async () => {
        try {
          await api(`/units/${encodeURIComponent(u.id)}`, { method: "PATCH", json: { capacity: Number(cap.value), occupied: Number(occ.value) } });
          say(`Unité ${u.id} déclarée : ${cap.value} places, ${occ.value} occupées.`);
          await load();
        } catch (err) { sayError(err); }
      } }, "Déclarer");
      save.setAttribute("aria-label", `Déclarer l'unité ${u.id}`);
      body.append(el("tr", {}, el("td", {}, u.id), el("td", {}, u.structure_name ? `${u.structure_name} (${u.structure_id})` : u.structure_id),
        el("td", {}, u.age_min !== undefined ? `${u.age_min}-${u.age_max} ans` : ""), el("td", {}, cap), el("td", {}, occ),
        el("td", {}, u.free), el("td", {}, u.vacancies_stale ? el("span", { class: "badge stale" }, `${when(u.vacancies_declared_at) || "jamais"} (ancienne)`) : when(u.vacancies_declared_at)), el("td", {}, save)));
    }
  };
  await load();
}

// --- jobs -------------------------------------------------------------------------------------------

async function jobsPage() {
  const load = async () => {
    const data = await api("/jobs");
    const scenarios = await api("/scenarios/jobs").catch(() => ({ items: [] }));
    for (const j of scenarios.items) { j.kind = j.kind === "sweep" ? "scénarios (balayage)" : "scénarios"; j.scenario = true; }
    data.items = [...data.items, ...scenarios.items].sort((a, b) => (b.created_at || "").localeCompare(a.created_at || ""));
    const body = $("#jobs tbody"); body.replaceChildren();
    for (const j of data.items) {
      body.append(el("tr", {}, el("td", {}, j.id), el("td", {}, j.scenario ? j.kind : METHOD[j.method] || j.method), el("td", {}, STATUS[j.status] || j.status),
        el("td", {}, el("progress", { max: 1, value: j.progress, "aria-label": `Avancement du travail ${j.id}` }), ` ${Math.round(j.progress * 100)} %`),
        el("td", {}, j.message || j.error || ""), el("td", {}, j.status !== "succeeded" ? "" : j.scenario
          ? downloadLink(`/scenarios/jobs/${encodeURIComponent(j.id)}/report`, `comparaison-${j.id}.html`, "Rapport")
          : j.method === "simulation" ? downloadLink(`/simulations/${encodeURIComponent(j.id)}/report`, `simulation-${j.id}.html`, "Rapport")
          : downloadLink(`/jobs/${encodeURIComponent(j.id)}/result`, `resultat-${j.id}.json`, "Télécharger"))));
    }
    if (!data.items.length) body.append(el("tr", {}, el("td", { colspan: 6 }, "Aucun travail.")));
    if (data.items.some((j) => j.status === "queued" || j.status === "running")) setTimeout(() => load().catch(sayError), 2000);
  };
  await load();
}

// --- planner ----------------------------------------------------------------------------------------

async function waitJob(url, status, done = (j) => j.status === "succeeded") {
  for (;;) {
    const j = await api(url);
    const count = j.total ? ` (${j.done} sur ${j.total})` : "";
    status.textContent = j.status === "succeeded" ? `${STATUS[j.status]}${count}.` : `${STATUS[j.status] || j.status} : ${Math.round((j.progress || 0) * 100)} %${count} ${j.message || ""}`;
    if (done(j)) return j;
    if (j.status === "failed" || j.status === "cancelled") throw new ApiError(409, { detail: j.error || "le travail a échoué" });
    await new Promise((r) => setTimeout(r, 1000));
  }
}

async function planningPage() {
  const examples = await api("/scenarios/examples");
  const box = $("#scenario-choices");
  examples.items.forEach((s, i) => {
    const id = `sc-${i}`;
    box.append(el("div", { class: "choice" }, el("input", { type: "checkbox", id, name: "scenario", value: String(i), checked: i < 2 }),
      " ", el("label", { for: id }, s.name), el("p", { class: "reasons" }, s.description)));
  });
  $("#scenario-copy").addEventListener("click", () => {
    const checked = [...box.querySelectorAll("input:checked")];
    if (!checked.length) return say("Cochez d'abord un exemple.", true);
    $("#scenario-text").value = examples.items[Number(checked[checked.length - 1].value)].text.replace(/^name: (.*)$/m, "name: $1 (modifié)");
    $("#scenario-text").focus();
  });
  $("#scenario-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const chosen = [...box.querySelectorAll("input:checked")].map((i) => examples.items[Number(i.value)].text);
    const own = $("#scenario-text").value.trim();
    if (own) chosen.push(own);
    if (chosen.length < 1) return say("Choisissez au moins un scénario.", true);
    try {
      const job = await api("/scenarios/runs", { method: "POST", json: { scenarios: chosen, time_limit_s: 10 } });
      await waitJob(`/scenarios/jobs/${encodeURIComponent(job.id)}`, $("#scenario-status"));
      await showComparison(job.id);
    } catch (err) { sayError(err); }
  });
  $("#rebalance-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      const job = await api("/rebalancing", { method: "POST", json: { max_moves: Number($("#rb-max").value) } });
      const done = await waitJob(`/rebalancing/${encodeURIComponent(job.id)}`, $("#rebalance-status"));
      const plan = done.plan || { moves: [] };
      const names = await structureNames();
      const t = el("table", { class: "list" }, el("caption", {}, "Déplacements proposés (chacun à approuver par un agent du service de l'enfant)"),
        el("thead", {}, el("tr", {}, ["Enfant (pseudonyme)", "De", "Vers", "Minutes gagnées", "Motif"].map((h) => el("th", { scope: "col" }, h)))),
        el("tbody", {}, plan.moves.map((m) => el("tr", {}, el("td", {}, m.child_id), el("td", {}, names[m.from_structure] || m.from_structure),
          el("td", {}, names[m.to_structure] || m.to_structure), el("td", {}, Math.round(m.minutes_saved)), el("td", {}, m.reason)))));
      const totals = plan.totals || {};
      $("#rebalance").replaceChildren(el("p", {}, `${plan.moves.length} déplacement(s) proposé(s)` +
        (totals.minutes_saved !== undefined ? `, ${Math.round(totals.minutes_saved)} minutes de trajet familial gagnées au total.` : ".")), t);
    } catch (err) { sayError(err); }
  });
  const sim = $("#simulation-form");
  if (sim) sim.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      const job = await api("/simulations", { method: "POST", json: { months: Number($("#sim-months").value), replications: 1 } });
      await waitJob(`/simulations/${encodeURIComponent(job.id)}`, $("#simulation-status"));
      const res = (await api(`/simulations/${encodeURIComponent(job.id)}/result`)).result;
      const summary = (res.summary || {}).policies || {};
      const policies = Object.keys(summary).filter((k) => k !== "hindsight");
      const rows = [["share_of_hindsight", "Part de l'optimum a posteriori", "share"], ["mean_days_waited", "Jours d'attente (moyenne)", "days"],
        ["emergency_placements", "Placements en urgence", "n"], ["median_transit_minutes", "Trajet médian", "minutes"],
        ["share_outside_ile_de_france", "Part hors d'Île-de-France", "share"], ["fratries_split", "Fratries séparées", "n"],
        ["cost_eur", "Coût", "eur"]];
      const cell = (v, unit) => v === null || v === undefined ? "" : unit === "share" ? `${Math.round(v * 1000) / 10} %`
        : unit === "days" ? `${Math.round(v * 10) / 10} j` : unit === "minutes" ? `${Math.round(v)} min` : unit === "eur" ? `${Math.round(v).toLocaleString("fr-FR")} €` : Math.round(v);
      const names = { greedy: "Premier arrivé, place la plus proche", own: "Première proposition de l'agent", system: "Proposition tenant compte des autres demandes", batch: "Lots hebdomadaires optimisés" };
      $("#simulation").replaceChildren(el("table", { class: "list" },
        el("caption", {}, `Résultats sur ${res.days} jours à partir du ${day(res.start)} (moyennes sur les réplications)`),
        el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "Indicateur"), policies.map((p) => el("th", { scope: "col" }, names[p] || p)))),
        el("tbody", {}, rows.map(([key, label, unit]) => el("tr", {}, el("th", { scope: "row" }, label),
          policies.map((p) => el("td", {}, cell(summary[p][key] && summary[p][key].mean, unit))))))),
        el("p", {}, downloadLink(`/simulations/${encodeURIComponent(job.id)}/report`, "simulation.html", "Télécharger le rapport de simulation (courbes dans le temps)")));
    } catch (err) { sayError(err); }
  });
}

function figureText(value, unit) {
  if (value === null || value === undefined) return "";
  if (unit === "share") return `${(value * 100).toLocaleString("fr-FR", { maximumFractionDigits: 1 })} %`;
  if (unit === "minutes") return `${Math.round(value)} min`;
  if (unit === "eur") return `${Math.round(value).toLocaleString("fr-FR")} €`;
  return Math.round(value).toLocaleString("fr-FR");
}

function signed(value, unit) {
  if (value === null || value === undefined) return "";
  const text = unit === "share" ? `${(value * 100).toLocaleString("fr-FR", { maximumFractionDigits: 1 })} pt` : figureText(Math.abs(value), unit).replace("-", "");
  return (value > 0 ? "+" : value < 0 ? "−" : "±") + (unit === "share" ? text.replace("-", "") : text);
}

async function showComparison(jobId) {
  const base = `/scenarios/jobs/${encodeURIComponent(jobId)}`;
  const cmp = await api(`${base}/comparison`);
  const names = cmp.headline_scenarios || [];
  const table = el("table", { class: "list" }, el("caption", {}, "Comparaison : chaque scénario et son écart signé par rapport au premier"),
    el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "Indicateur"), names.map((s) => el("th", { scope: "col" }, s)))),
    el("tbody", {}, cmp.headline.map((r) => el("tr", {}, el("th", { scope: "row" }, r.label),
      r.values.map((v, i) => el("td", {}, figureText(v, r.unit), i > 0 ? ` (${signed(r.differences[i], r.unit)})` : ""))))));
  const pics = await api(`${base}/pictures`);
  const figures = pics.pictures.slice(0, 4).map((p) => el("figure", {}, el("img", { src: p.url, alt: `Graphique ${p.name}` }), el("figcaption", {}, p.name)));
  $("#comparison").replaceChildren(table, ...figures, el("p", {}, downloadLink(`${base}/report`, "comparaison.html", "Télécharger le rapport")));
}

document.addEventListener("DOMContentLoaded", () => { start().catch(sayError); });
