/* Read-only pathway diagrams drawn by app/templates/pathways/_diagram.html: bpmn-js's
   NavigatedViewer (vendored, global BpmnJS) on every [data-pathway-diagram] of the page.

   The figure's data attributes give the BPMN's address and the element ids to mark:
   data-completed (green), data-current (blue), data-failed (red), as JSON lists. Once drawn,
   the text fallback stays for screen readers only; when the diagram cannot be drawn (no
   JavaScript), the text stays visible. No inline code: the CSP is script-src 'self'.

   A BPMN written by hand often has no drawing (no bpmndi:BPMNDiagram): window.ParcoursBpmn.
   withLayout lays its main process out in columns (steps in flow order) and rows (one per
   lane), for this viewer and for the modeler (app/static/js/pathway-modeler.js). */
(function () {
  "use strict";

  if (window.ParcoursBpmn) return; // the macro may load this file more than once

  var CELL_W = 160, CELL_H = 120, HEADER = 30, MARGIN = 40;

  function is(element, type) {
    return !!(element && element.$instanceOf && element.$instanceOf(type));
  }

  function sizeOf(node) {
    if (is(node, "bpmn:Event")) return [36, 36];
    if (is(node, "bpmn:Gateway")) return [50, 50];
    return [100, 80];
  }

  function mainProcess(roots) {
    var processes = roots.filter(function (root) { return is(root, "bpmn:Process"); });
    var called = {};
    processes.forEach(function (process) {
      process.get("flowElements").forEach(function (node) {
        if (is(node, "bpmn:CallActivity")) called[node.calledElement] = true;
      });
    });
    return processes.filter(function (p) { return !called[p.id] && p.isExecutable !== false; })[0]
      || processes[0];
  }

  function leafLanes(laneSets) {
    var lanes = [];
    (laneSets || []).forEach(function (set) {
      set.get("lanes").forEach(function (lane) {
        if (lane.childLaneSet && lane.childLaneSet.get("lanes").length) {
          lanes = lanes.concat(leafLanes([lane.childLaneSet]));
        } else {
          lanes.push(lane);
        }
      });
    });
    return lanes;
  }

  // Columns: the longest path from a start, loops (back edges) ignored.
  function ranks(nodes, flows) {
    var next = new Map(), incoming = new Map(), rank = new Map(), state = new Map();
    var back = new Set(), order = [];
    nodes.forEach(function (node) { next.set(node, []); incoming.set(node, 0); });
    flows.forEach(function (flow) {
      var source = is(flow.sourceRef, "bpmn:BoundaryEvent") ? flow.sourceRef.attachedToRef : flow.sourceRef;
      if (next.has(source) && next.has(flow.targetRef)) {
        next.get(source).push(flow.targetRef);
        incoming.set(flow.targetRef, incoming.get(flow.targetRef) + 1);
      }
    });
    function visit(node) {
      state.set(node, 1);
      next.get(node).forEach(function (target) {
        if (state.get(target) === 1) back.add(node.id + ">" + target.id);
        else if (!state.get(target)) visit(target);
      });
      state.set(node, 2);
      order.push(node);
    }
    nodes.filter(function (n) { return is(n, "bpmn:StartEvent") || !incoming.get(n); }).forEach(function (n) {
      if (!state.get(n)) visit(n);
    });
    nodes.forEach(function (n) { if (!state.get(n)) visit(n); });
    order.reverse().forEach(function (node) {
      var here = rank.get(node) || 0;
      rank.set(node, here);
      next.get(node).forEach(function (target) {
        if (!back.has(node.id + ">" + target.id)) rank.set(target, Math.max(rank.get(target) || 0, here + 1));
      });
    });
    return rank;
  }

  function layout(moddle, definitions, taken) {
    var roots = definitions.get("rootElements");
    var process = mainProcess(roots);
    if (!process) return false;
    function newId(base) {
      var id = base, n = 1;
      while (taken[id]) id = base + "_" + (++n);
      taken[id] = true;
      return id;
    }
    var elements = process.get("flowElements");
    var nodes = elements.filter(function (e) { return is(e, "bpmn:FlowNode") && !is(e, "bpmn:BoundaryEvent"); });
    var boundaries = elements.filter(function (e) { return is(e, "bpmn:BoundaryEvent"); });
    var flows = elements.filter(function (e) { return is(e, "bpmn:SequenceFlow"); });
    var rank = ranks(nodes, flows);
    var lanes = leafLanes(process.get("laneSets"));
    var laneOf = new Map();
    lanes.forEach(function (lane) {
      (lane.get("flowNodeRef") || []).forEach(function (node) { laneOf.set(node, lane); });
    });
    var rows = lanes.slice();
    if (!lanes.length || nodes.some(function (n) { return !laneOf.has(n); })) rows.push(null);
    var left = MARGIN + (lanes.length ? 2 * HEADER : 0);
    var bounds = new Map(), top = MARGIN, rowBounds = new Map(), columns = 0;
    rows.forEach(function (row) {
      var used = {}, depth = 1;
      nodes.filter(function (n) { return (laneOf.get(n) || null) === row; }).forEach(function (node) {
        var column = rank.get(node) || 0, line = used[column] || 0, size = sizeOf(node);
        used[column] = line + 1;
        depth = Math.max(depth, line + 1);
        columns = Math.max(columns, column + 1);
        bounds.set(node, {
          x: left + column * CELL_W + (CELL_W - size[0]) / 2,
          y: top + line * CELL_H + (CELL_H - size[1]) / 2, width: size[0], height: size[1]
        });
      });
      rowBounds.set(row, { y: top, height: depth * CELL_H });
      top += depth * CELL_H;
    });
    var width = columns * CELL_W + (lanes.length ? 2 * HEADER : 0);
    var planeElements = [];
    function shape(element, box, extra) {
      planeElements.push(moddle.create("bpmndi:BPMNShape", Object.assign({
        id: newId(element.id + "_di"), bpmnElement: element,
        bounds: moddle.create("dc:Bounds", box)
      }, extra || {})));
    }
    var planeTarget = process;
    if (lanes.length) {
      // Lanes belong to a pool: the process gets one, as the modeler draws them.
      var collaboration = roots.filter(function (r) { return is(r, "bpmn:Collaboration"); })[0];
      var participant = collaboration && collaboration.get("participants").filter(function (p) {
        return p.processRef === process;
      })[0];
      if (!participant) {
        participant = moddle.create("bpmn:Participant", { id: newId("Participant_" + process.id),
          name: process.name, processRef: process });
        if (!collaboration) {
          collaboration = moddle.create("bpmn:Collaboration", { id: newId("Collaboration_" + process.id) });
          collaboration.$parent = definitions;
          roots.unshift(collaboration);
        }
        participant.$parent = collaboration;
        collaboration.get("participants").push(participant);
      }
      planeTarget = collaboration;
      shape(participant, { x: MARGIN, y: MARGIN, width: width, height: top - MARGIN }, { isHorizontal: true });
      rows.forEach(function (row) {
        if (!row) return;
        var box = rowBounds.get(row);
        shape(row, { x: MARGIN + HEADER, y: box.y, width: width - HEADER, height: box.height }, { isHorizontal: true });
      });
    }
    nodes.forEach(function (node) {
      var extra = is(node, "bpmn:SubProcess") ? { isExpanded: false }
        : is(node, "bpmn:ExclusiveGateway") ? { isMarkerVisible: true } : null;
      shape(node, bounds.get(node), extra);
    });
    var perHost = new Map();
    boundaries.forEach(function (event) {
      var host = bounds.get(event.attachedToRef);
      if (!host) return;
      var n = perHost.get(host) || 0;
      perHost.set(host, n + 1);
      var box = { x: host.x + host.width - 46 - n * 40, y: host.y + host.height - 18, width: 36, height: 36 };
      bounds.set(event, box);
      shape(event, box);
    });
    flows.forEach(function (flow) {
      var a = bounds.get(flow.sourceRef), b = bounds.get(flow.targetRef);
      if (!a || !b) return;
      var points;
      if (is(flow.sourceRef, "bpmn:BoundaryEvent")) {
        points = [{ x: a.x + a.width / 2, y: a.y + a.height }, { x: a.x + a.width / 2, y: b.y + b.height / 2 },
          { x: b.x, y: b.y + b.height / 2 }];
      } else if (b.x > a.x) {  // forward: straight, or down (up) first then across
        var ay = a.y + a.height / 2, by = b.y + b.height / 2, ax = a.x + a.width / 2;
        points = ay === by ? [{ x: a.x + a.width, y: ay }, { x: b.x, y: by }]
          : [{ x: ax, y: by > ay ? a.y + a.height : a.y }, { x: ax, y: by }, { x: b.x, y: by }];
      } else {  // a loop back: under both shapes
        var low = Math.max(a.y + a.height, b.y + b.height) + 20;
        points = [{ x: a.x + a.width / 2, y: a.y + a.height }, { x: a.x + a.width / 2, y: low },
          { x: b.x + b.width / 2, y: low }, { x: b.x + b.width / 2, y: b.y + b.height }];
      }
      planeElements.push(moddle.create("bpmndi:BPMNEdge", {
        id: newId(flow.id + "_di"), bpmnElement: flow,
        waypoint: points.map(function (p) { return moddle.create("dc:Point", p); })
      }));
    });
    var plane = moddle.create("bpmndi:BPMNPlane", { id: newId("BPMNPlane_" + process.id),
      bpmnElement: planeTarget, planeElement: planeElements });
    var diagram = moddle.create("bpmndi:BPMNDiagram", { id: newId("BPMNDiagram_" + process.id), plane: plane });
    diagram.$parent = definitions;
    definitions.get("diagrams").push(diagram);
    return true;
  }

  /* The BPMN `xml` as is when it has a drawing, else with one laid out: {xml, laidOut,
     warnings}. The warnings are moddle's (elements it could not read, and so dropped). */
  async function withLayout(moddle, xml) {
    var parsed;
    try {
      parsed = await moddle.fromXML(xml, "bpmn:Definitions");
    } catch (error) {
      return { xml: xml, laidOut: false, warnings: [] };  // importXML will say what is wrong
    }
    var definitions = parsed.rootElement, warnings = parsed.warnings || [];
    if (definitions.get("diagrams").length) return { xml: xml, laidOut: false, warnings: warnings };
    var taken = {};
    Object.keys(parsed.elementsById || {}).forEach(function (id) { taken[id] = true; });
    if (!layout(moddle, definitions, taken)) return { xml: xml, laidOut: false, warnings: warnings };
    return { xml: (await moddle.toXML(definitions, { format: true })).xml, laidOut: true, warnings: warnings };
  }

  window.ParcoursBpmn = { withLayout: withLayout };
})();

(function () {
  "use strict";

  if (window.parcoursDiagrams) return; // the macro may load this file more than once
  window.parcoursDiagrams = true;

  var MARKERS = { completed: "pathway-completed", current: "pathway-current", failed: "pathway-failed" };

  function ids(figure, name) {
    try {
      var value = JSON.parse(figure.getAttribute("data-" + name) || "[]");
      return Array.isArray(value) ? value : [];
    } catch (error) {
      return [];
    }
  }

  function fail(figure, message) {
    var box = figure.querySelector("[data-diagram-error]");
    box.textContent = message;
    box.classList.remove("d-none");
    figure.querySelector("[data-diagram-canvas]").classList.add("d-none");
    var notice = figure.querySelector("[data-diagram-noscript]");
    if (notice) notice.classList.add("d-none");
  }

  async function draw(figure) {
    figure.setAttribute("data-diagram-state", "loading");
    var canvasBox = figure.querySelector("[data-diagram-canvas]");
    canvasBox.classList.remove("d-none");
    var viewer = new window.BpmnJS({ container: canvasBox });
    try {
      var response = await fetch(figure.getAttribute("data-bpmn-url"), { credentials: "same-origin" });
      if (!response.ok) throw new Error("erreur " + response.status);
      var drawn = await window.ParcoursBpmn.withLayout(viewer.get("moddle"), await response.text());
      await viewer.importXML(drawn.xml);
      if (drawn.laidOut) figure.setAttribute("data-diagram-laid-out", "true");
    } catch (error) {
      var text = String(error && error.message || error);
      fail(figure, "Le diagramme n'a pas pu être affiché (" + text + ").");
      viewer.destroy();
      figure.setAttribute("data-diagram-state", "failed");
      return;
    }
    var canvas = viewer.get("canvas");
    var registry = viewer.get("elementRegistry");
    canvas.zoom("fit-viewport", "auto");
    Object.keys(MARKERS).forEach(function (name) {
      ids(figure, name).forEach(function (id) {
        if (registry.get(id)) canvas.addMarker(id, MARKERS[name]);
      });
    });
    var fallback = figure.querySelector("[data-diagram-fallback]");
    fallback.classList.add("visually-hidden");
    var notice = figure.querySelector("[data-diagram-noscript]");
    if (notice) notice.classList.add("d-none");
    figure.setAttribute("data-diagram-state", "ready");
  }

  function start() {
    if (typeof window.BpmnJS !== "function") return;
    document.querySelectorAll("[data-pathway-diagram]").forEach(draw);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
