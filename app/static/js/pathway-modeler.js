/* The pathway modeler (app/templates/pathways/modeler.html): bpmn-js's Modeler (vendored,
   global BpmnJS) with our own properties panel. No bundler, no inline code (the CSP is
   script-src 'self'); the page's data comes from <script type="application/json" id="modeler-data">.

   The panel writes exactly what app/engine/parser.py reads:
   - user task: <bpmn:extensionElements><spiffworkflow:properties>
       <spiffworkflow:property name="formKey" value="…"/> (and name="dueIn", ISO 8601 duration);
   - lane: its name is a care role key (coordinateur, infirmier…);
   - flow leaving an exclusive or inclusive gateway: <bpmn:conditionExpression> (an expression
     on form data, e.g. evaluation_multidimensionnelle["gir"] <= 2), or the gateway's default;
   - timer: <bpmn:timeDuration|timeDate|timeCycle> holding an ISO string in quotes, "P7D";
   - service task: <spiffworkflow:serviceTaskOperator id="notify"><spiffworkflow:parameters>
       <spiffworkflow:parameter id="…" type="any" value="expression"/>;
   - message event: messageRef to a <bpmn:message name="…"/>, optional messageVariable.
   Every write goes through bpmn-js's modeling commands, so undo and redo cover the panel too.
   Texts typed by designers are only ever set with textContent or value, never as HTML. */
(function () {
  "use strict";

  var SPIFF_URI = "http://spiffworkflow.org/bpmn/schema/1.0/core";

  // The spiffworkflow extension elements, for bpmn-js's moddle. Types serialize by their
  // name, first letter lower-cased: spiffworkflow:properties, spiffworkflow:property… Every
  // element SpiffWorkflow 3.2 reads is declared, so that opening and saving a file keeps them;
  // moddle drops an undeclared one of this namespace, and the page then says which.
  function attributes(names) {
    return names.map(function (name) { return { name: name, type: "String", isAttr: true }; });
  }

  function text(name) {  // <spiffworkflow:name>text</spiffworkflow:name>
    return { name: name, superClass: ["Element"], properties: [{ name: "value", type: "String", isBody: true }] };
  }

  function container(name, properties) {
    return { name: name, superClass: ["Element"], properties: properties };
  }

  var SPIFF_DESCRIPTOR = {
    name: "SpiffWorkflow",
    uri: SPIFF_URI,
    prefix: "spiffworkflow",
    xml: { tagAlias: "lowerCase" },
    associations: [],
    types: [
      container("Properties", [{ name: "properties", type: "Property", isMany: true }]),
      container("Property", attributes(["name", "value"])),
      // id: the operator's name, not a BPMN id (two tasks may call the same operator).
      container("ServiceTaskOperator", attributes(["id", "resultVariable"]).concat([
        { name: "parameterList", type: "Parameters" }, { name: "retry", type: "Retry" }
      ])),
      container("Parameters", [{ name: "parameters", type: "Parameter", isMany: true }]),
      container("Parameter", attributes(["id", "type", "value"])),
      container("Retry", attributes(["retries", "backoff_base"])),
      container("TaskMetadataValues", [{ name: "values", type: "TaskMetadataValue", isMany: true }]),
      container("TaskMetadataValue", attributes(["name", "value"])),
      container("UnitTests", [{ name: "unitTests", type: "UnitTest", isMany: true }]),
      container("UnitTest", attributes(["id"]).concat([
        { name: "inputJson", type: "InputJson" }, { name: "expectedOutputJson", type: "ExpectedOutputJson" }
      ])),
      container("ProcessVariableCorrelation", [
        { name: "propertyId", type: "PropertyId" }, { name: "expression", type: "Expression" }
      ]),
      text("MessageVariable"), text("MessagePayload"), text("PreScript"), text("PostScript"),
      text("InstructionsForEndUser"), text("CalledDecisionId"), text("InputJson"),
      text("ExpectedOutputJson"), text("PropertyId"), text("Expression"), text("SignalPayload"),
      text("VariableName"), text("AllowGuest"), text("GuestConfirmation")
    ]
  };

  var TYPE_LABELS = {
    "bpmn:UserTask": "Tâche utilisateur",
    "bpmn:ServiceTask": "Tâche de service",
    "bpmn:ScriptTask": "Tâche de script",
    "bpmn:ManualTask": "Tâche manuelle",
    "bpmn:SendTask": "Tâche d'envoi",
    "bpmn:ReceiveTask": "Tâche de réception",
    "bpmn:BusinessRuleTask": "Tâche de règle métier",
    "bpmn:Task": "Tâche",
    "bpmn:SubProcess": "Sous-processus",
    "bpmn:CallActivity": "Appel d'un autre processus",
    "bpmn:Lane": "Couloir",
    "bpmn:Participant": "Bassin du parcours",
    "bpmn:SequenceFlow": "Flux",
    "bpmn:MessageFlow": "Flux de message",
    "bpmn:ExclusiveGateway": "Passerelle exclusive",
    "bpmn:InclusiveGateway": "Passerelle inclusive",
    "bpmn:ParallelGateway": "Passerelle parallèle",
    "bpmn:EventBasedGateway": "Passerelle sur événements",
    "bpmn:StartEvent": "Événement de début",
    "bpmn:EndEvent": "Événement de fin",
    "bpmn:IntermediateCatchEvent": "Événement intermédiaire",
    "bpmn:IntermediateThrowEvent": "Événement intermédiaire émis",
    "bpmn:BoundaryEvent": "Événement attaché",
    "bpmn:TextAnnotation": "Annotation",
    "bpmn:Process": "Processus",
    "bpmn:Collaboration": "Collaboration"
  };
  var DUE_PRESETS = [["P2D", "2 jours"], ["P7D", "7 jours"], ["P1M", "1 mois"]];
  var TIMER_KINDS = [
    ["timeDuration", "Durée (attendre)", "P7D"],
    ["timeDate", "Date précise", "2027-01-31T09:00:00+01:00"],
    ["timeCycle", "Cycle (répéter)", "R3/P1M"]
  ];
  var ISO_DURATION = /^(P(?!$)(\d+Y)?(\d+M)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+S)?)?|P\d+W)$/;
  var PROCESS_ID = /^[A-Za-z_][A-Za-z0-9_-]{0,63}$/;
  var PROBLEM_MARKER = "pathway-problem";

  var config, modeler, modeling, moddle, registry, selection, canvas, commandStack;
  var panel, panelTitle, writing = 0, dirty = false, problemIds = [], keyTouched = false;

  // --- small DOM helpers ------------------------------------------------------------------

  function h(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) {
      var value = attrs[name];
      if (value === null || value === undefined || value === false) return;
      if (name === "text") node.textContent = value;
      else if (name === "className") node.className = value;
      else if (name.slice(0, 2) === "on") node.addEventListener(name.slice(2), value);
      else if (name === "value") node.value = value;
      else if (value === true) node.setAttribute(name, "");
      else node.setAttribute(name, value);
    });
    (children || []).forEach(function (child) {
      if (child) node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }

  function fieldId(name) {
    return "pp-" + name;
  }

  function field(label, control, help) {
    var helpId = help ? control.id + "-aide" : null;
    if (helpId) control.setAttribute("aria-describedby", helpId);
    return h("div", { className: "mb-3" }, [
      h("label", { className: "form-label", "for": control.id, text: label }),
      control,
      help ? h("div", { className: "form-text", id: helpId, text: help }) : null
    ]);
  }

  function input(name, value, attrs) {
    return h("input", Object.assign({
      className: "form-control", id: fieldId(name), type: "text", value: value || "",
      autocomplete: "off", spellcheck: "false"
    }, attrs || {}));
  }

  function select(name, options, current, attrs) {
    var node = h("select", Object.assign({ className: "form-select", id: fieldId(name) }, attrs || {}));
    var known = false;
    options.forEach(function (option) {
      var selected = option[0] === (current || "");
      known = known || selected;
      node.appendChild(h("option", { value: option[0], text: option[1], selected: selected }));
    });
    if (!known && current) {  // a value from a file: keep it visible, marked unknown
      node.appendChild(h("option", { value: current, text: current + " (inconnu)", selected: true }));
    }
    return node;
  }

  function status(message, kind) {
    var box = document.getElementById("m-status");
    if (message === null) {
      box.className = "d-none";
      box.textContent = "";
      return;
    }
    box.className = "alert alert-" + (kind || "info");
    box.textContent = "";
    if (typeof message === "string") box.textContent = message;
    else box.appendChild(message);
  }

  // --- the model ----------------------------------------------------------------------------

  function is(element, type) {
    var bo = element && (element.businessObject || element);
    return !!(bo && bo.$instanceOf && bo.$instanceOf(type));
  }

  function typeLabel(element) {
    var bo = element.businessObject || element;
    return TYPE_LABELS[bo.$type] || bo.$type.replace("bpmn:", "");
  }

  function describe(element) {
    var bo = element.businessObject;
    var name = (bo.name || "").trim();
    return name ? "« " + name + " » (" + typeLabel(element) + ")" : typeLabel(element) + " " + bo.id;
  }

  function write(action) {
    // Commands started by the panel: the panel updates itself, elements.changed must not
    // redraw it under the designer's fingers (focus would be lost).
    writing += 1;
    try {
      action();
    } finally {
      writing -= 1;
    }
  }

  function update(element, target, properties) {
    write(function () {
      modeling.updateModdleProperties(element, target, properties);
    });
  }

  function extensionValues(bo) {
    return bo.extensionElements ? bo.extensionElements.get("values") : [];
  }

  function findExtension(bo, type) {
    return extensionValues(bo).filter(function (value) { return is(value, type); })[0] || null;
  }

  function addExtension(element, bo, created) {
    var extensions = bo.extensionElements;
    if (!extensions) {
      extensions = moddle.create("bpmn:ExtensionElements", { values: [] });
      update(element, bo, { extensionElements: extensions });
    }
    update(element, extensions, { values: extensions.get("values").concat([created]) });
    return created;
  }

  function removeExtension(element, bo, value) {
    var extensions = bo.extensionElements;
    if (!extensions) return;
    var rest = extensions.get("values").filter(function (other) { return other !== value; });
    if (rest.length) update(element, extensions, { values: rest });
    else update(element, bo, { extensionElements: undefined });
  }

  function getProperty(bo, name) {
    var properties = findExtension(bo, "spiffworkflow:Properties");
    var found = properties && properties.get("properties").filter(function (p) {
      return p.name === name;
    })[0];
    return found ? found.value || "" : "";
  }

  function setProperty(element, name, value, target) {
    var bo = target || element.businessObject;
    var properties = findExtension(bo, "spiffworkflow:Properties");
    var list = properties ? properties.get("properties") : [];
    var existing = list.filter(function (p) { return p.name === name; })[0];
    if (value) {
      if (existing) {
        update(element, existing, { value: value });
        return;
      }
      if (!properties) {
        properties = addExtension(element, bo, moddle.create("spiffworkflow:Properties", { properties: [] }));
      }
      var created = moddle.create("spiffworkflow:Property", { name: name, value: value });
      update(element, properties, { properties: properties.get("properties").concat([created]) });
    } else if (existing) {
      var rest = list.filter(function (p) { return p !== existing; });
      if (rest.length) update(element, properties, { properties: rest });
      else removeExtension(element, bo, properties);
    }
  }

  function definitions() {
    return modeler.getDefinitions();
  }

  // The pathway's process: the executable one that no call activity calls.
  function mainProcess() {
    var roots = definitions().get("rootElements");
    var processes = roots.filter(function (root) { return is(root, "bpmn:Process"); });
    var called = {};
    processes.forEach(function (process) {
      (process.get("flowElements") || []).forEach(function (node) {
        if (is(node, "bpmn:CallActivity") && node.calledElement) called[node.calledElement] = true;
      });
    });
    return processes.filter(function (p) { return !called[p.id]; })[0] || processes[0] || null;
  }

  function participantOf(process) {
    var found = null;
    registry.forEach(function (element) {
      if (is(element, "bpmn:Participant") && element.businessObject.processRef === process) {
        found = found || element;
      }
    });
    return found;
  }

  function laneOf(element) {
    var lane = null;
    registry.forEach(function (candidate) {
      if (!is(candidate, "bpmn:Lane") || lane) return;
      var refs = candidate.businessObject.get("flowNodeRef") || [];
      if (refs.indexOf(element.businessObject) !== -1) lane = candidate;
    });
    return lane;
  }

  // --- the pathway's name, key and owner (above the canvas) ---------------------------------

  function slug(text) {
    var value = (text || "").normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase()
      .replace(/[^a-z0-9]+/g, "_").replace(/^_+|_+$/g, "").slice(0, 64);
    if (value && !/^[a-z_]/.test(value)) value = "p_" + value.slice(0, 62);
    return value;
  }

  function fillPathwayFields() {
    var process = mainProcess();
    document.getElementById("p-name").value = process ? process.name || "" : "";
    document.getElementById("p-key").value = process ? process.id : "";
    var purpose = document.getElementById("p-purpose");
    if (purpose) {
      purpose.value = process && getProperty(process, "purpose") === "platform" ? "platform" : "patient";
    }
    checkKey();
  }

  function checkKey() {
    var key = document.getElementById("p-key");
    var ok = PROCESS_ID.test(key.value);
    key.classList.toggle("is-invalid", !ok);
    return ok;
  }

  function setPathwayName(name) {
    var process = mainProcess();
    if (!process) return;
    var participant = participantOf(process);
    var root = canvas.getRootElement();
    if (participant) {
      write(function () { modeling.updateProperties(participant, { name: name }); });
      update(participant, process, { name: name });
    } else if (root.businessObject === process) {
      write(function () { modeling.updateProperties(root, { name: name }); });
    } else {
      update(root, process, { name: name });
    }
  }

  // The process's purpose (spiffworkflow property "purpose"): absent for a patient pathway,
  // "platform" for a process of the platform itself, which never runs on a dossier.
  function setPathwayPurpose(purpose) {
    var process = mainProcess();
    if (!process) return;
    var element = participantOf(process) || canvas.getRootElement();
    setProperty(element, "purpose", purpose === "platform" ? "platform" : "", process);
  }

  function setPathwayKey(key) {
    var process = mainProcess();
    if (!process || process.id === key) return;
    var root = canvas.getRootElement();
    if (root.businessObject === process) {
      write(function () { modeling.updateProperties(root, { id: key }); });
    } else {
      update(participantOf(process) || root, process, { id: key });
    }
  }

  function bindPathwayFields() {
    var name = document.getElementById("p-name");
    var key = document.getElementById("p-key");
    name.addEventListener("input", function () {
      if (config.mode === "new" && !keyTouched) {
        key.value = slug(name.value);
        checkKey();
      }
    });
    name.addEventListener("change", function () {
      setPathwayName(name.value.trim());
      if (config.mode === "new" && !keyTouched && checkKey()) setPathwayKey(key.value);
    });
    key.addEventListener("input", function () {
      keyTouched = true;
      checkKey();
    });
    key.addEventListener("change", function () {
      if (checkKey()) setPathwayKey(key.value);
    });
    if (config.mode === "edit") key.readOnly = true;
    var purpose = document.getElementById("p-purpose");
    var owner = document.getElementById("p-owner");
    if (purpose) {
      purpose.addEventListener("change", function () { setPathwayPurpose(purpose.value); });
    }
    if (purpose && owner) {
      // A structure's pathway is for its patients: only the platform owns its processes.
      owner.addEventListener("change", function () {
        purpose.disabled = Boolean(owner.value);
        if (owner.value && purpose.value !== "patient") {
          purpose.value = "patient";
          setPathwayPurpose("patient");
        }
      });
    }
  }

  // --- the properties panel -----------------------------------------------------------------

  function nameField(element) {
    var control = input("name", element.businessObject.name, { onchange: function () {
      write(function () { modeling.updateProperties(element, { name: control.value.trim() || undefined }); });
    } });
    control.setAttribute("spellcheck", "true");
    return field("Nom", control);
  }

  function userTaskFields(element) {
    var bo = element.businessObject;
    var forms = [["", "— Choisir un formulaire —"]].concat(config.forms.map(function (form) {
      return [form.key, form.title + " (" + form.key + ")"];
    }));
    var form = select("form", forms, getProperty(bo, "formKey"), { onchange: function () {
      setProperty(element, "formKey", form.value);
    } });
    var due = input("due", getProperty(bo, "dueIn"), { placeholder: "P7D",
      pattern: ISO_DURATION.source.replace(/^\^|\$$/g, "") });
    function setDue(value) {
      due.value = value;
      var ok = !value || ISO_DURATION.test(value);
      due.classList.toggle("is-invalid", !ok);
      if (ok) setProperty(element, "dueIn", value);
    }
    due.addEventListener("change", function () { setDue(due.value.trim().toUpperCase()); });
    var presets = h("div", { className: "btn-group btn-group-sm flex-wrap mt-1", role: "group",
      "aria-label": "Délais courants" }, DUE_PRESETS.map(function (preset) {
      return h("button", { type: "button", className: "btn btn-outline-secondary", text: preset[1],
        "aria-label": "Délai de " + preset[1] + " (" + preset[0] + ")",
        onclick: function () { setDue(preset[0]); } });
    }).concat([h("button", { type: "button", className: "btn btn-outline-secondary", text: "Aucun",
      "aria-label": "Sans délai", onclick: function () { setDue(""); } })]));
    var dueField = field("Délai (dueIn)", due,
      "Durée ISO 8601 à compter de l'ouverture de la tâche : P2D = 2 jours, PT12H = 12 heures, P2W = 2 semaines, P1M = 1 mois.");
    dueField.insertBefore(presets, dueField.querySelector(".form-text"));
    dueField.appendChild(h("div", { className: "invalid-feedback", text: "Durée invalide (par exemple P7D)." }));
    var lane = laneOf(element);
    var laneText = lane ? "Couloir : " + roleLabel(lane.businessObject.name) + "."
      : "Hors de tout couloir : placez la tâche dans le couloir du rôle qui doit la réaliser.";
    return [
      field("Formulaire", form, config.forms.length ? "Le formulaire que la personne remplit pour terminer la tâche."
        : "Aucun formulaire publié : publiez d'abord un formulaire."),
      dueField,
      h("p", { className: lane ? "small text-muted" : "small text-danger", text: laneText })
    ];
  }

  function roleLabel(key) {
    var role = config.roles.filter(function (r) { return r.key === key; })[0];
    return role ? role.label : (key || "sans nom");
  }

  function laneFields(element) {
    var roles = [["", "— Choisir un rôle —"]].concat(config.roles.map(function (role) {
      return [role.key, role.label];
    }));
    var control = select("role", roles, element.businessObject.name, { onchange: function () {
      write(function () { modeling.updateProperties(element, { name: control.value || undefined }); });
    } });
    return [field("Rôle", control,
      "Les tâches de ce couloir sont proposées au membre du cercle de soins qui tient ce rôle.")];
  }

  function gatewayFlowFields(element) {
    var bo = element.businessObject;
    var gateway = bo.sourceRef;
    var gatewayShape = registry.get(gateway.id);
    var isDefault = gateway.default === bo;
    var condition = h("textarea", { className: "form-control font-monospace", id: fieldId("condition"),
      rows: "3", spellcheck: "false", disabled: isDefault,
      value: bo.conditionExpression ? bo.conditionExpression.body || "" : "" });
    condition.addEventListener("change", function () {
      var text = condition.value.trim();
      write(function () {
        modeling.updateProperties(element, { conditionExpression: text
          ? moddle.create("bpmn:FormalExpression", { body: text }) : undefined });
      });
    });
    var checkbox = h("input", { className: "form-check-input", type: "checkbox", id: fieldId("default"),
      checked: isDefault });
    checkbox.addEventListener("change", function () {
      write(function () {
        if (checkbox.checked) {
          modeling.updateProperties(element, { conditionExpression: undefined });
          modeling.updateProperties(gatewayShape, { "default": bo });
        } else {
          modeling.updateProperties(gatewayShape, { "default": undefined });
        }
      });
      condition.disabled = checkbox.checked;
      if (checkbox.checked) condition.value = "";
    });
    return [
      field("Condition", condition,
        "Expression sur les données des formulaires remplis, par exemple : evaluation_multidimensionnelle[\"gir\"] <= 2"),
      h("div", { className: "form-check mb-3" }, [
        checkbox,
        h("label", { className: "form-check-label", "for": checkbox.id, text: "Flux par défaut" }),
        h("div", { className: "form-text", text: "Pris quand aucune condition des autres flux n'est remplie." })
      ])
    ];
  }

  function unquote(text) {
    var match = /^\s*"([^"]*)"\s*$/.exec(text || "") || /^\s*'([^']*)'\s*$/.exec(text || "");
    return match ? match[1] : (text || "").trim();
  }

  function quoted(text) {
    // An ISO literal gets its quotes; an expression (reads form data) is kept as written.
    return /^[A-Za-z0-9:+.\/-]+$/.test(text) ? "\"" + text + "\"" : text;
  }

  function timerFields(element, definition) {
    var current = TIMER_KINDS.filter(function (kind) { return definition[kind[0]]; })[0] || TIMER_KINDS[0];
    var expression = definition[current[0]];
    var kind = select("timer-kind", TIMER_KINDS.map(function (k) { return [k[0], k[1]]; }), current[0]);
    var value = input("timer-value", expression ? unquote(expression.body) : "", { placeholder: current[2] });
    var help = h("div", { className: "form-text", id: value.id + "-aide" });
    function explain() {
      var chosen = TIMER_KINDS.filter(function (k) { return k[0] === kind.value; })[0];
      value.placeholder = chosen[2];
      help.textContent = "Exemple : " + chosen[2] + ". Valeur ISO 8601 ; les guillemets sont ajoutés. "
        + "Une expression sur les données (par exemple visite_domicile[\"prochaine_visite\"]) est gardée telle quelle.";
    }
    function save() {
      var text = value.value.trim();
      var properties = { timeDuration: undefined, timeDate: undefined, timeCycle: undefined };
      if (text) properties[kind.value] = moddle.create("bpmn:FormalExpression", { body: quoted(text) });
      update(element, definition, properties);
    }
    kind.addEventListener("change", function () { explain(); save(); });
    value.addEventListener("change", save);
    explain();
    value.setAttribute("aria-describedby", help.id);
    return [
      field("Minuterie", kind),
      h("div", { className: "mb-3" }, [
        h("label", { className: "form-label", "for": value.id, text: "Valeur" }), value, help
      ])
    ];
  }

  function messageFields(element, definition) {
    var message = definition.messageRef;
    var name = input("message", message ? message.name || message.id : "");
    name.addEventListener("change", function () {
      var text = name.value.trim();
      if (!text) {
        update(element, definition, { messageRef: undefined });
        return;
      }
      var defs = definitions();
      var found = defs.get("rootElements").filter(function (root) {
        return is(root, "bpmn:Message") && root.name === text;
      })[0];
      if (!found) {
        found = moddle.create("bpmn:Message", { id: uniqueId("Message_" + slug(text)), name: text });
        update(element, defs, { rootElements: defs.get("rootElements").concat([found]) });
      }
      update(element, definition, { messageRef: found });
    });
    var fields = [field("Nom du message", name,
      "Le nom que l'événement envoie ou attend (par exemple sortie_hospitalisation) ; l'API l'envoie avec POST /api/v1/dossiers/{id}/events.")];
    var catching = is(element, "bpmn:CatchEvent");
    if (catching) {
      var current = findExtension(definition, "spiffworkflow:MessageVariable");
      var variable = input("message-variable", current ? current.value : "");
      variable.addEventListener("change", function () {
        var text = variable.value.trim();
        var existing = findExtension(definition, "spiffworkflow:MessageVariable");
        if (existing && text) update(element, existing, { value: text });
        else if (existing) removeExtension(element, definition, existing);
        else if (text) addExtension(element, definition, moddle.create("spiffworkflow:MessageVariable", { value: text }));
      });
      fields.push(field("Variable recevant le contenu (facultatif)", variable,
        "Les conditions suivantes lisent le contenu du message sous ce nom."));
    }
    return fields;
  }

  function uniqueId(base) {
    var ids = moddle.ids;
    var id = base, n = 1;
    while ((ids && ids.assigned(id)) || registry.get(id)) id = base + "_" + (++n);
    if (ids) ids.claim(id, true);
    return id;
  }

  function serviceTaskFields(element) {
    var bo = element.businessObject;
    var operator = findExtension(bo, "spiffworkflow:ServiceTaskOperator");
    var operators = [["", "— Choisir une opération —"]].concat(config.operators.map(function (op) {
      return [op.key, op.label + " (" + op.key + ")"];
    }));
    var choice = select("operator", operators, operator ? operator.id : "");
    var result = input("result", operator ? operator.resultVariable : "");
    var list = h("div", { id: fieldId("parameters") });

    function ensureOperator() {
      operator = findExtension(bo, "spiffworkflow:ServiceTaskOperator");
      if (!operator) {
        operator = addExtension(element, bo, moddle.create("spiffworkflow:ServiceTaskOperator", {
          id: choice.value || undefined,
          parameterList: moddle.create("spiffworkflow:Parameters", { parameters: [] })
        }));
      }
      if (!operator.parameterList) {
        update(element, operator, { parameterList: moddle.create("spiffworkflow:Parameters", { parameters: [] }) });
      }
      return operator;
    }

    function parameters() {
      return operator && operator.parameterList ? operator.parameterList.get("parameters") : [];
    }

    function drawParameters(focusId) {
      list.textContent = "";
      parameters().forEach(function (parameter, index) {
        var n = index + 1;
        var name = input("param-name-" + n, parameter.id, { "aria-label": "Nom du paramètre " + n });
        var value = input("param-value-" + n, parameter.value, { className: "form-control font-monospace",
          "aria-label": "Valeur du paramètre " + n + " (expression)" });
        name.addEventListener("change", function () { update(element, parameter, { id: name.value.trim() }); });
        value.addEventListener("change", function () { update(element, parameter, { value: value.value.trim() }); });
        var remove = h("button", { type: "button", className: "btn btn-outline-danger btn-sm",
          text: "Retirer", "aria-label": "Retirer le paramètre " + n, onclick: function () {
            update(element, operator.parameterList, { parameters: parameters().filter(function (p) {
              return p !== parameter;
            }) });
            drawParameters(fieldId("add-parameter"));
          } });
        list.appendChild(h("div", { className: "pathway-parameter mb-2" }, [name, value, remove]));
      });
      if (focusId) {
        var target = document.getElementById(focusId);
        if (target) target.focus();
      }
    }

    choice.addEventListener("change", function () {
      if (!choice.value) {
        if (operator) removeExtension(element, bo, operator);
        operator = null;
        drawParameters();
        return;
      }
      ensureOperator();
      update(element, operator, { id: choice.value });
    });
    result.addEventListener("change", function () {
      ensureOperator();
      update(element, operator, { resultVariable: result.value.trim() || undefined });
    });
    var add = h("button", { type: "button", className: "btn btn-outline-secondary btn-sm", id: fieldId("add-parameter"),
      text: "Ajouter un paramètre", onclick: function () {
        ensureOperator();
        var created = moddle.create("spiffworkflow:Parameter", { id: "parametre_" + (parameters().length + 1),
          type: "any", value: "''" });
        update(element, operator.parameterList, { parameters: parameters().concat([created]) });
        drawParameters(fieldId("param-name-" + parameters().length));
      } });
    drawParameters();
    return [
      field("Opération", choice, "Ce que Parcours fait automatiquement à cette étape."),
      h("fieldset", { className: "mb-3" }, [
        h("legend", { className: "form-label fs-6", text: "Paramètres (nom et valeur)" }),
        h("p", { className: "form-text mt-0", text: "Chaque valeur est une expression : un texte entre apostrophes ('rappel'), un nombre, ou une donnée de formulaire (evaluation_multidimensionnelle[\"gir\"])." }),
        list,
        add
      ]),
      field("Variable du résultat (facultatif)", result, "Le nom sous lequel les étapes suivantes lisent le résultat.")
    ];
  }

  function eventDefinition(element, type) {
    var definitions = element.businessObject.get("eventDefinitions") || [];
    return definitions.filter(function (d) { return is(d, type); })[0] || null;
  }

  // Every element of the drawing in a list: selecting one needs no pointer.
  function elementPicker(current) {
    var root = canvas.getRootElement();
    var items = registry.filter(function (e) {
      return e !== root && e.type !== "label" && e.businessObject && !e.isImplicit;
    }).map(function (e) {
      var name = (e.businessObject.name || "").trim();
      return [e.id, typeLabel(e) + " : " + (name || e.id)];
    }).sort(function (a, b) { return a[1].localeCompare(b[1], "fr"); });
    var picker = select("element", [["", "— Choisir un élément —"]].concat(items), current ? current.id : "");
    picker.addEventListener("change", function () {
      var element = registry.get(picker.value);
      if (!element) return;
      selection.select(element);
      canvas.scrollToElement(element);
      document.getElementById(fieldId("element")).focus();
    });
    return field("Élément à régler", picker);
  }

  function render(element) {
    panel.textContent = "";
    panel.dataset.element = element ? element.id : "";
    if (!element || element.type === "label") {
      panelTitle.textContent = "Propriétés";
      panel.appendChild(h("p", { className: "text-muted small",
        text: "Sélectionnez une étape, un couloir, un flux ou un événement dans le diagramme ou dans la liste pour régler ses propriétés (formulaire, délai, rôle, condition, minuterie…)." }));
      panel.appendChild(elementPicker(null));
      return;
    }
    var bo = element.businessObject;
    panelTitle.textContent = "Propriétés : " + typeLabel(element);
    var parts = [elementPicker(element),
      h("p", { className: "small text-muted mb-2" }, ["Identifiant : ", h("code", { text: bo.id })])];
    if (is(element, "bpmn:Participant")) {
      parts.push(h("p", { className: "small", text: "Le nom et l'identifiant du parcours se règlent au-dessus du diagramme. Ajoutez un couloir par rôle avec le menu du bassin." }));
    } else if (!is(element, "bpmn:Lane") && !is(element, "bpmn:Process") && !is(element, "bpmn:Collaboration")) {
      parts.push(nameField(element));
    }
    if (is(element, "bpmn:UserTask")) parts = parts.concat(userTaskFields(element));
    else if (is(element, "bpmn:ServiceTask")) parts = parts.concat(serviceTaskFields(element));
    else if (is(element, "bpmn:Lane")) parts = parts.concat(laneFields(element));
    else if (is(element, "bpmn:SequenceFlow") && (is(bo.sourceRef, "bpmn:ExclusiveGateway")
      || is(bo.sourceRef, "bpmn:InclusiveGateway"))) parts = parts.concat(gatewayFlowFields(element));
    else if (is(element, "bpmn:ManualTask") || is(element, "bpmn:ScriptTask") || (bo.$type === "bpmn:Task")) {
      parts.push(h("p", { className: "small text-danger",
        text: "Parcours n'exécute que les tâches utilisateur (un formulaire à remplir) et les tâches de service : changez le type avec la clé à molette du menu de l'élément." }));
    }
    var timer = eventDefinition(element, "bpmn:TimerEventDefinition");
    if (timer) parts = parts.concat(timerFields(element, timer));
    var message = eventDefinition(element, "bpmn:MessageEventDefinition");
    if (message) parts = parts.concat(messageFields(element, message));
    if (problemIds.indexOf(bo.id) !== -1) {
      parts.push(h("p", { className: "small text-danger", text: "Un problème est signalé sur cet élément : voir la liste au-dessus du diagramme." }));
    }
    parts.forEach(function (part) { panel.appendChild(part); });
  }

  function selected() {
    var elements = selection.get();
    return elements.length === 1 ? elements[0] : null;
  }

  // --- problems, save, download, open -----------------------------------------------------

  function clearProblems() {
    problemIds.forEach(function (id) {
      if (registry.get(id)) canvas.removeMarker(id, PROBLEM_MARKER);
    });
    problemIds = [];
    var box = document.getElementById("m-problems");
    box.classList.add("d-none");
    box.textContent = "";
  }

  function showProblems(message, problems) {
    clearProblems();
    var box = document.getElementById("m-problems");
    var list = h("ul", { className: "mb-0" });
    problems.forEach(function (problem) {
      var element = problem.element ? registry.get(problem.element) : null;
      var where = [];  // the line only helps when the element is not in the drawing
      if (element) where.push(describe(element));
      else if (problem.element) where.push("Élément " + problem.element);
      if (problem.line && !element) where.push("ligne " + problem.line);
      var text = (where.length ? where.join(", ") + " : " : "") + problem.message;
      if (element) {
        if (problemIds.indexOf(element.id) === -1) {
          problemIds.push(element.id);
          canvas.addMarker(element.id, PROBLEM_MARKER);
        }
        list.appendChild(h("li", {}, [h("button", { type: "button", className: "pathway-problem-link",
          text: text, title: "Sélectionner cet élément dans le diagramme", onclick: function () {
            selection.select(element);
            canvas.scrollToElement(element);
            panelTitle.focus();
          } })]));
      } else {
        list.appendChild(h("li", { text: text }));
      }
    });
    box.appendChild(h("p", { className: "fw-semibold mb-1", text: message }));
    if (problems.length) box.appendChild(list);
    box.classList.remove("d-none");
    box.focus();
  }

  var HTTP_MESSAGES = {
    400: "La session a expiré ou la page est trop ancienne : rechargez la page (pensez à télécharger le BPMN avant).",
    403: "Vous n'avez pas le droit de déployer ce parcours.",
    413: "Le diagramme est trop volumineux.",
    429: "Trop de tentatives. Réessayez dans une minute."
  };

  function saveUrl() {
    var params = new URLSearchParams();
    if (config.mode === "new") {
      var owner = document.getElementById("p-owner");
      if (owner && owner.value) params.set("structure", owner.value);
      params.set("nouveau", mainProcess() ? mainProcess().id : "");
    } else if (config.structure) {
      params.set("structure", config.structure);
    }
    var query = params.toString();
    return config.saveUrl + (query ? "?" + query : "");
  }

  function token() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }

  async function save() {
    if (!definitions()) return;  // nothing could be opened: the status says why
    var button = document.getElementById("m-save");
    var name = document.getElementById("p-name");
    if (!checkKey()) {
      status("Identifiant du parcours invalide : lettres, chiffres, « _ » ou « - », sans espace ni accent, commençant par une lettre.", "danger");
      document.getElementById("p-key").focus();
      return;
    }
    if (name.value.trim() !== (mainProcess().name || "")) setPathwayName(name.value.trim());
    setPathwayKey(document.getElementById("p-key").value);
    button.disabled = true;
    status("Vérification du parcours…", "info");
    try {
      var xml = (await modeler.saveXML({ format: true })).xml;
      if (new Blob([xml]).size > config.maxBytes) {
        clearProblems();
        status(HTTP_MESSAGES[413], "danger");
        return;
      }
      var response = await fetch(saveUrl(), {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/xml", "X-CSRFToken": token(), "Accept": "application/json" },
        body: xml
      });
      var body = null;
      if ((response.headers.get("Content-Type") || "").indexOf("application/json") === 0) {
        body = await response.json();
      }
      if (response.ok && body) {
        saved(body);
        return;
      }
      var error = body && body.error ? body.error : null;
      var message = error ? error.message : HTTP_MESSAGES[response.status]
        || "Le parcours n'a pas pu être enregistré (erreur " + response.status + ").";
      var problems = error && error.problems ? error.problems : [];
      if (error && error.fields && !problems.length) {
        problems = Object.keys(error.fields).map(function (key) { return { message: error.fields[key] }; });
      }
      status(null);
      showProblems(message, problems);
    } catch (err) {
      status("Le parcours n'a pas pu être enregistré : " + (err && err.message ? err.message : err), "danger");
    } finally {
      button.disabled = false;
    }
  }

  function saved(body) {
    clearProblems();
    dirty = false;
    var link = h("a", { href: body.url, className: "alert-link", text: "Voir la version " + body.version });
    var text = body.created ? "Version " + body.version + " déployée. " :
      "Aucun changement : la version " + body.version + " reste en service. ";
    status(h("span", {}, [text, link]), "success");
    if (config.mode === "new") {
      // From now on the page edits this pathway: later saves make new versions of it.
      config.mode = "edit";
      config.key = body.key;
      var owner = document.getElementById("p-owner");
      config.structure = owner ? owner.value || null : null;
      if (owner) owner.disabled = true;
      document.getElementById("p-key").readOnly = true;
      if (body.edit_url && window.history.replaceState) window.history.replaceState(null, "", body.edit_url);
    }
  }

  // The whole diagram in view, right of the palette that floats over the canvas's left side.
  function fit() {
    canvas.zoom("fit-viewport", "auto");
    var box = canvas.viewbox(), inner = box.inner, outer = box.outer;
    if (!inner.width || !inner.height) return;
    var palette = document.querySelector("#m-canvas .djs-palette");
    var left = (palette ? palette.offsetLeft + palette.offsetWidth : 0) + 12, margin = 12;
    var scale = Math.min((outer.width - left - margin) / inner.width,
      (outer.height - 2 * margin) / inner.height, 1);
    if (scale <= 0) return;
    canvas.viewbox({
      x: inner.x - left / scale,
      y: inner.y - (outer.height / scale - inner.height) / 2,
      width: outer.width / scale,
      height: outer.height / scale
    });
  }

  function zoomBy(factor) {
    canvas.zoom(Math.min(Math.max(canvas.zoom() * factor, 0.2), 4), "auto");
  }

  async function download() {
    if (!definitions()) return;
    var xml = (await modeler.saveXML({ format: true })).xml;
    var process = mainProcess();
    var link = h("a", { href: URL.createObjectURL(new Blob([xml], { type: "application/xml" })),
      download: (process ? process.id : "parcours") + ".bpmn" });
    document.body.appendChild(link);
    link.click();
    link.remove();
    setTimeout(function () { URL.revokeObjectURL(link.href); }, 1000);
  }

  async function open(xml, origin) {
    clearProblems();
    try {
      // A BPMN written by hand may have no drawing: pathway-viewer.js lays one out.
      var drawn = await window.ParcoursBpmn.withLayout(moddle, xml);
      var result = await modeler.importXML(drawn.xml);
      fit();
      fillPathwayFields();
      render(null);
      dirty = origin === "file";
      var warnings = drawn.laidOut ? drawn.warnings : result.warnings || [];
      if (warnings.length) {
        status("Attention : " + warnings.length + " élément(s) n'ont pas pu être lus et seront absents du parcours enregistré"
          + unreadable(warnings) + ". Vérifiez le diagramme avant de déployer.", "warning");
      } else if (drawn.laidOut) {
        status("Ce BPMN n'avait pas de dessin : ses éléments ont été disposés automatiquement. Vérifiez la disposition avant de déployer.", "info");
      } else if (origin === "file") {
        status("Fichier ouvert : vérifiez-le, puis déployez-le.", "info");
      }
      return true;
    } catch (err) {
      status("Le diagramme n'a pas pu être ouvert : " + String(err && err.message || err), "danger");
      return false;
    }
  }

  function unreadable(warnings) {
    var names = [];
    warnings.forEach(function (warning) {
      var match = /<([^>]+)>/.exec(warning.message || "");
      if (match && names.indexOf(match[1]) === -1) names.push(match[1]);
    });
    return names.length ? " (" + names.slice(0, 5).join(", ") + (names.length > 5 ? "…" : "") + ")" : "";
  }

  function openFile(event) {
    var file = event.target.files && event.target.files[0];
    if (!file) return;
    if (file.size > config.maxBytes) {
      status(HTTP_MESSAGES[413], "danger");
      return;
    }
    file.text().then(function (xml) { open(xml, "file"); });
    event.target.value = "";
  }

  async function load() {
    if (config.bpmnUrl) {
      var response = await fetch(config.bpmnUrl, { credentials: "same-origin" });
      if (!response.ok) {
        status("Le BPMN de ce parcours n'a pas pu être chargé (erreur " + response.status + ").", "danger");
        return;
      }
      await open(await response.text(), "server");
    } else {
      await open(config.starter, "starter");
    }
  }

  function start() {
    var data = document.getElementById("modeler-data");
    if (!data || typeof window.BpmnJS !== "function" || !window.ParcoursBpmn) return;
    config = JSON.parse(data.textContent);
    panel = document.getElementById("m-panel");
    panelTitle = document.getElementById("m-panel-title");
    modeler = new window.BpmnJS({
      container: "#m-canvas",
      moddleExtensions: { spiffworkflow: SPIFF_DESCRIPTOR }
    });
    modeling = modeler.get("modeling");
    moddle = modeler.get("moddle");
    registry = modeler.get("elementRegistry");
    selection = modeler.get("selection");
    canvas = modeler.get("canvas");
    commandStack = modeler.get("commandStack");

    modeler.on("selection.changed", function () { render(selected()); });
    modeler.on("elements.changed", function () {
      dirty = true;
      if (writing) return;  // the panel changed it and shows it already
      render(selected());  // undo, redo, an edit on the canvas
      fillPathwayFields();
    });

    bindPathwayFields();
    document.getElementById("m-save").addEventListener("click", save);
    document.getElementById("m-download").addEventListener("click", download);
    document.getElementById("m-open").addEventListener("click", function () {
      document.getElementById("m-file").click();
    });
    document.getElementById("m-file").addEventListener("change", openFile);
    document.getElementById("m-undo").addEventListener("click", function () { commandStack.undo(); });
    document.getElementById("m-redo").addEventListener("click", function () { commandStack.redo(); });
    document.getElementById("m-fit").addEventListener("click", fit);
    document.getElementById("m-zoom-in").addEventListener("click", function () { zoomBy(1.25); });
    document.getElementById("m-zoom-out").addEventListener("click", function () { zoomBy(0.8); });
    window.addEventListener("beforeunload", function (event) {
      if (!dirty) return;
      event.preventDefault();
      event.returnValue = "";
    });
    document.getElementById("m-toolbar").classList.remove("d-none");
    load().then(function () {
      dirty = false;
      document.getElementById("m-canvas").setAttribute("data-ready", "true");
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
