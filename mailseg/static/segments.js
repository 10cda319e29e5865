// The segment builder: a rule tree edited with selects and inputs (no JSON needed), kept in sync with
// the JSON view (#rule-json, the field the form posts), and a debounced live count from the server.
(function () {
  "use strict";
  var root = document.getElementById("builder");
  var textarea = document.getElementById("rule-json");
  if (!root || !textarea) { return; }
  var data = JSON.parse(document.getElementById("builder-data").textContent);
  var T = JSON.parse(document.getElementById("builder-text").textContent);
  var countEl = document.getElementById("live-count");
  var csrfInput = document.querySelector("input[name=csrf_token]");
  var NO_VALUE = ["is_empty", "is_not_empty", "is_member", "is_not_member"];
  var DAYS = ["within_last_days", "not_within_last_days"];
  var model;

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") { node.textContent = attrs[k]; } else if (k === "checked") { node.checked = attrs[k]; }
      else { node.setAttribute(k, attrs[k]); }
    });
    (children || []).forEach(function (c) { if (c) { node.appendChild(c); } });
    return node;
  }
  function select(label, options, value, onChange) {
    var s = el("select", { "aria-label": label });
    options.forEach(function (o) {
      var opt = el("option", { value: o[0], text: o[1] });
      if (o[0] === value) { opt.selected = true; }
      s.appendChild(opt);
    });
    s.addEventListener("change", function () { onChange(s.value); });
    return s;
  }
  function input(label, value, onInput, type) {
    var i = el("input", { type: type || "text", "aria-label": label, value: value == null ? "" : String(value) });
    i.addEventListener("input", function () { onInput(i.value); });
    return i;
  }
  function typeOf(field) {
    return field.indexOf("merge.") === 0 ? "text" : (data.fields[field] || "text");
  }

  // --- JSON <-> model ---------------------------------------------------------------------------
  function fromJson(j) {
    if (j && j.not !== undefined) {
      var inner = fromJson(j.not);
      if (inner.kind === "group" && !inner.negate) { inner.negate = true; return inner; }
      return { kind: "group", mode: "all", negate: true, items: [inner] };
    }
    if (j && (j.all || j.any)) {
      var mode = j.all ? "all" : "any";
      return { kind: "group", mode: mode, negate: false, items: (j[mode] || []).map(fromJson) };
    }
    if (j && j.event) {
      var count = j.count || { op: ">=", value: 1 };
      return { kind: "event", event: j.event, human: j.human !== false, url_contains: j.url_contains || "",
               within_days: j.within_days || "", campaign: j.campaign || "", count_op: count.op,
               count_value: Array.isArray(count.value) ? count.value.join(", ") : count.value };
    }
    var value = j ? j.value : "";
    var low = "", high = "";
    if (j && j.op === "between" && Array.isArray(value)) { low = value[0]; high = value[1]; value = ""; }
    else if (Array.isArray(value)) { value = value.join(", "); }
    return { kind: "field", field: (j && j.field) || "email", op: (j && j.op) || "=", value: value == null ? "" : value,
             low: low, high: high };
  }
  function number(text) {
    var n = Number(String(text).trim());
    return String(text).trim() !== "" && isFinite(n) ? n : text;
  }
  function fieldValue(c) {
    var type = typeOf(c.field);
    var one = function (v) { return type === "number" ? number(v) : String(v).trim(); };
    if (c.op === "between") { return [one(c.low), one(c.high)]; }
    if (c.op === "in" || c.op === "not_in") {
      return String(c.value).split(",").map(function (v) { return v.trim(); }).filter(Boolean).map(one);
    }
    if (DAYS.indexOf(c.op) >= 0) { return number(c.value); }
    return one(c.value);
  }
  function toJson(node) {
    if (node.kind === "group") {
      var group = {};
      group[node.mode] = node.items.map(toJson);
      return node.negate ? { not: group } : group;
    }
    if (node.kind === "event") {
      var e = { event: node.event };
      if (!node.human) { e.human = false; }
      if (node.url_contains && node.event === "click") { e.url_contains = node.url_contains; }
      if (String(node.within_days).trim()) { e.within_days = number(node.within_days); }
      if (node.campaign) { e.campaign = node.campaign; }
      var countValue = node.count_op === "between"
        ? String(node.count_value).split(",").map(function (v) { return number(v.trim()); }) : number(node.count_value);
      if (!(node.count_op === ">=" && countValue === 1)) { e.count = { op: node.count_op, value: countValue }; }
      return e;
    }
    var c = { field: node.field, op: node.op };
    if (NO_VALUE.indexOf(node.op) < 0) { c.value = fieldValue(node); }
    return c;
  }

  // --- rendering ----------------------------------------------------------------------------------
  function renderGroup(group, parent) {
    var box = el("fieldset", { "class": "rule-group" + (group.negate ? " negated" : "") });
    var head = el("div", { "class": "rule-head" }, [
      el("span", { text: T.group_kind }),
      select(T.group_kind, [["all", T.all], ["any", T.any]], group.mode, function (v) { group.mode = v; changed(); }),
      el("label", { "class": "check" }, [checkbox(T.negate, group.negate, function (v) { group.negate = v; render(); }),
                                          el("span", { text: T.negate })])
    ]);
    if (parent) { head.appendChild(removeButton(parent, group)); }
    box.appendChild(head);
    var list = el("ol", { "class": "rule-items" });
    group.items.forEach(function (item) {
      list.appendChild(el("li", {}, [item.kind === "group" ? renderGroup(item, group)
                                     : item.kind === "event" ? renderEvent(item, group) : renderField(item, group)]));
    });
    box.appendChild(list);
    box.appendChild(el("div", { "class": "rule-add" }, [
      button(T.add_condition, function () { group.items.push(fromJson({ field: "email", op: "contains", value: "" })); render(); }),
      button(T.add_event, function () { group.items.push(fromJson({ event: "click", within_days: 30 })); render(); }),
      button(T.add_group, function () { group.items.push({ kind: "group", mode: "any", negate: false, items: [fromJson({ field: "email", op: "contains", value: "" })] }); render(); })
    ]));
    return box;
  }
  function button(text, onClick) {
    var b = el("button", { type: "button", text: text });
    b.addEventListener("click", onClick);
    return b;
  }
  function removeButton(parent, item) {
    var b = button(T.remove, function () { parent.items.splice(parent.items.indexOf(item), 1); render(); });
    b.className = "remove";
    return b;
  }
  function checkbox(label, value, onChange) {
    var c = el("input", { type: "checkbox", "aria-label": label, checked: !!value });
    c.addEventListener("change", function () { onChange(c.checked); });
    return c;
  }
  function renderField(c, parent) {
    var row = el("div", { "class": "rule-condition" });
    var isMerge = c.field.indexOf("merge.") === 0;
    var options = Object.keys(data.fields).map(function (f) { return [f, f]; });
    options.push(["merge.", "merge.…"]);
    row.appendChild(select(T.field, options, isMerge ? "merge." : c.field, function (v) {
      c.field = v === "merge." ? "merge.city" : v;
      var ops = data.operators[typeOf(c.field)];
      if (ops.indexOf(c.op) < 0) { c.op = ops[0]; }
      render();
    }));
    if (isMerge) { row.appendChild(input(T.key, c.field.slice(6), function (v) { c.field = "merge." + v; changed(); })); }
    var ops = data.operators[typeOf(c.field)];
    row.appendChild(select(T.op, ops.map(function (o) { return [o, o.replace(/_/g, " ")]; }), c.op,
                           function (v) { c.op = v; render(); }));
    var type = typeOf(c.field) === "date" && DAYS.indexOf(c.op) < 0 ? "date" : "text";
    if (c.op === "between") {
      row.appendChild(input(T.value, c.low, function (v) { c.low = v; changed(); }, type));
      row.appendChild(el("span", { text: T.and }));
      row.appendChild(input(T.value, c.high, function (v) { c.high = v; changed(); }, type));
    } else if (NO_VALUE.indexOf(c.op) < 0) {
      row.appendChild(input(T.value, c.value, function (v) { c.value = v; changed(); }, type));
    }
    row.appendChild(removeButton(parent, c));
    return row;
  }
  function renderEvent(e, parent) {
    var row = el("div", { "class": "rule-condition event" });
    row.appendChild(select(T.event, data.events.map(function (v) { return [v, v]; }), e.event,
                           function (v) { e.event = v; render(); }));
    row.appendChild(el("label", { "class": "check" }, [checkbox(T.human, e.human, function (v) { e.human = v; changed(); }),
                                                        el("span", { text: T.human })]));
    row.appendChild(select(T.count, data.count_ops.map(function (v) { return [v, v]; }), e.count_op,
                           function (v) { e.count_op = v; changed(); }));
    row.appendChild(input(T.count, e.count_value, function (v) { e.count_value = v; changed(); }));
    row.appendChild(input(T.within_days, e.within_days, function (v) { e.within_days = v; changed(); }));
    if (e.event === "click") { row.appendChild(input(T.url_contains, e.url_contains, function (v) { e.url_contains = v; changed(); })); }
    row.appendChild(input(T.campaign, e.campaign, function (v) { e.campaign = v; changed(); }));
    row.appendChild(removeButton(parent, e));
    return row;
  }
  function render() {
    root.textContent = "";
    root.appendChild(renderGroup(model, null));
    changed();
  }

  // --- JSON view and live count -------------------------------------------------------------------
  var timer = null;
  var sequence = 0;
  function changed() {
    textarea.value = JSON.stringify(toJson(model), null, 2);
    countEl.textContent = T.counting;
    clearTimeout(timer);
    timer = setTimeout(count, 400);
  }
  function count() {
    var mine = ++sequence;
    fetch(data.preview_url, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfInput ? csrfInput.value : "" },
      body: JSON.stringify({ rule: JSON.parse(textarea.value) })
    }).then(function (r) { return r.json(); }).then(function (result) {
      if (mine !== sequence) { return; }
      if (result.errors) { countEl.textContent = T.invalid + " " + result.errors.join("; "); return; }
      countEl.textContent = T.matches.replace("{count}", result.count.toLocaleString()) +
        (result.sample.length ? " — " + T.examples + ": " + result.sample.join(", ") : "");
      countEl.setAttribute("data-count", String(result.count));
    }).catch(function () { countEl.textContent = T.invalid; });
  }
  document.getElementById("apply-json").addEventListener("click", function () {
    try { model = normalise(fromJson(JSON.parse(textarea.value))); render(); }
    catch (err) { countEl.textContent = T.invalid + " " + err.message; }
  });
  function normalise(node) {
    return node.kind === "group" ? node : { kind: "group", mode: "all", negate: false, items: [node] };
  }
  try { model = normalise(fromJson(JSON.parse(textarea.value))); }
  catch (err) { model = { kind: "group", mode: "all", negate: false, items: [] }; }
  render();
})();
