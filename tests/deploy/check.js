#!/usr/bin/env node
// check.js: offline checks of rendered Kubernetes manifests (the output of
// `kubectl kustomize`), used by tests/integration/test_deploy.sh.
//
//   node check.js schema   FILE            every object against the Kubernetes OpenAPI schema
//   node check.js server   FILE            the signet server's hardening and wiring
//   node check.js workload FILE            the example workload with the agent sidecar
//   node check.js site     FILE TRUST_DOMAIN   an overlay with site data (PKI Secret, JWKS)
//
// Options, applied to the parsed objects before checking, so that a test can
// prove a check fails when the property it guards is removed or broken:
//   --set    'Kind/name:path=JSON'     e.g. 'StatefulSet/signet:spec.replicas="one"'
//   --delete 'Kind/name:path'          e.g. 'StatefulSet/signet:spec.template.spec.securityContext.runAsNonRoot'
// A path is dot-separated ("\." for a dot inside a key: "data.signet\.json");
// list elements are chosen by index ("containers.0") or by name
// ("containers[name=signet]"). A name ending in "*" matches a prefix
// (generated names carry a hash: "ConfigMap/signet-config*").
//
// Prints one line per failed check and exits 1 if any failed, else prints
// "ok: <command>: N objects" and exits 0. Exit 2 on a usage error.
//
//   node check.js COMMAND FILE [ARG] --each-breaks CASES
// runs COMMAND once per line of CASES ("--set SPEC" or "--delete SPEC"), each
// time on a fresh copy of FILE with that one mutation, and prints per line
// "breaks: <line>: <first failure>" when the checks fail as they should, or
// "MISSED: <line>" when they pass. Exit 0 when every case broke the checks.
'use strict';

const fs = require('fs');
const YAML = require('yaml');

function usage(msg) {
  process.stderr.write(`check.js: ${msg}\n`);
  process.exit(2);
}

// ---- loading and mutating ----

function loadDocs(file) {
  const text = fs.readFileSync(file, 'utf8');
  const docs = YAML.parseAllDocuments(text);
  const out = [];
  for (const d of docs) {
    if (d.errors.length) usage(`${file}: YAML error: ${d.errors[0].message}`);
    const o = d.toJS();
    if (o !== null && o !== undefined) out.push(o);
  }
  return out;
}

function nameMatches(pattern, name) {
  if (pattern.endsWith('*')) return typeof name === 'string' && name.startsWith(pattern.slice(0, -1));
  return pattern === name;
}

function findObjects(docs, kind, name) {
  return docs.filter(
    (o) => o.kind === kind && (name === undefined || nameMatches(name, o.metadata && o.metadata.name))
  );
}

// Splits at |sep| outside [...] (selectors hold "=" and dots); for dots, a
// backslash escapes the next character.
function splitOutside(s, sep) {
  const out = [];
  let depth = 0;
  let cur = '';
  let escaped = false;
  for (const ch of s) {
    if (escaped) {
      cur += ch;
      escaped = false;
      continue;
    }
    if (ch === '\\' && sep === '.') {
      escaped = true; // "data.signet\.json": a key with a dot
      continue;
    }
    if (ch === '[') depth++;
    if (ch === ']') depth--;
    if (ch === sep && depth === 0) {
      out.push(cur);
      cur = '';
    } else {
      cur += ch;
    }
  }
  out.push(cur);
  return out;
}

function parsePath(path) {
  const parts = [];
  for (const seg of splitOutside(path, '.')) {
    const m = /^([^[\]]*)\[(\w+)=([^\]]*)\]$/.exec(seg);
    if (m) {
      if (m[1]) parts.push(m[1]);
      parts.push({ key: m[2], value: m[3] });
    } else {
      parts.push(seg);
    }
  }
  return parts;
}

function step(node, part) {
  if (node === null || node === undefined) return undefined;
  if (typeof part === 'object') {
    if (!Array.isArray(node)) return undefined;
    const i = node.findIndex((e) => e && String(e[part.key]) === part.value);
    return i < 0 ? undefined : i;
  }
  if (Array.isArray(node) && /^\d+$/.test(part)) return Number(part);
  return part;
}

function mutate(docs, spec, del) {
  const colon = spec.indexOf(':');
  if (colon < 0) usage(`bad mutation ${spec}`);
  const [kind, name] = spec.slice(0, colon).split('/');
  let rest = spec.slice(colon + 1);
  let value;
  if (!del) {
    const halves = splitOutside(rest, '=');
    if (halves.length < 2) usage(`--set needs =JSON: ${spec}`);
    try {
      value = JSON.parse(halves.slice(1).join('='));
    } catch (e) {
      usage(`--set value is not JSON: ${spec}`);
    }
    rest = halves[0];
  }
  const targets = findObjects(docs, kind, name);
  if (targets.length === 0) usage(`no object ${kind}/${name} to mutate`);
  const parts = parsePath(rest);
  for (const t of targets) {
    let node = t;
    for (let i = 0; i < parts.length - 1; i++) {
      const k = step(node, parts[i]);
      if (k === undefined || node[k] === undefined) usage(`path ${rest} not found in ${kind}/${name}`);
      node = node[k];
    }
    const last = step(node, parts[parts.length - 1]);
    if (last === undefined) usage(`path ${rest} not found in ${kind}/${name}`);
    if (del) {
      if (!(last in node)) usage(`path ${rest} not found in ${kind}/${name}`);
      if (Array.isArray(node)) node.splice(last, 1);
      else delete node[last];
    } else {
      node[last] = value;
    }
  }
}

// ---- checks ----

const failures = [];
let checks = 0;
function expect(cond, what) {
  checks++;
  if (!cond) failures.push(what);
  return !!cond;
}

function schemaCheck(docs) {
  for (const o of docs) {
    const id = `${o.kind}/${o.metadata && o.metadata.name}`;
    if (!expect(typeof o.apiVersion === 'string' && typeof o.kind === 'string', `${id}: apiVersion and kind`)) continue;
    const group = o.apiVersion.includes('/') ? o.apiVersion : `v1`;
    if (!expect(/^[a-z0-9.\-/]+$/.test(group) && /^[A-Za-z]+$/.test(o.kind), `${id}: odd apiVersion/kind`)) continue;
    let Model;
    try {
      Model = require(`kubernetes-models/${group}/${o.kind}`)[o.kind];
    } catch (e) {
      expect(false, `${id}: no schema for ${o.apiVersion} ${o.kind}`);
      continue;
    }
    // The API server decodes Secret data with Go's base64, which skips line
    // breaks (kustomize wraps long values); the schema's "byte" format doesn't.
    if (o.kind === 'Secret' && o.data && typeof o.data === 'object') {
      for (const k of Object.keys(o.data)) if (typeof o.data[k] === 'string') o.data[k] = o.data[k].replace(/[\r\n]/g, '');
    }
    try {
      new Model(o).validate();
      expect(true, id);
    } catch (e) {
      const msg = (e.message || String(e)).split('\n').slice(0, 6).join('; ');
      expect(false, `${id} (${o.apiVersion}): schema: ${msg}`);
    }
  }
}

function allContainers(podSpec) {
  return [...(podSpec.initContainers || []), ...(podSpec.containers || [])];
}

function labelsMatch(selector, labels) {
  if (!selector || typeof selector !== 'object') return false;
  const ml = selector.matchLabels || {};
  if (Object.keys(ml).length === 0) return false;
  return Object.entries(ml).every(([k, v]) => labels && labels[k] === v);
}

// The restricted Pod Security Standard and then some, for a pod template.
function podHardening(id, tmpl) {
  const spec = (tmpl && tmpl.spec) || {};
  const psc = spec.securityContext || {};
  expect(psc.runAsNonRoot === true, `${id}: pod securityContext.runAsNonRoot is not true`);
  expect(Number.isInteger(psc.runAsUser) && psc.runAsUser > 0, `${id}: pod runAsUser is not a numeric non-root UID`);
  expect(Number.isInteger(psc.runAsGroup) && psc.runAsGroup > 0, `${id}: pod runAsGroup is not a numeric non-root GID`);
  expect(Number.isInteger(psc.fsGroup) && psc.fsGroup > 0, `${id}: pod fsGroup is not set`);
  expect(psc.seccompProfile && psc.seccompProfile.type === 'RuntimeDefault', `${id}: pod seccompProfile is not RuntimeDefault`);
  expect(spec.automountServiceAccountToken === false, `${id}: automountServiceAccountToken is not false`);
  expect(!spec.hostNetwork && !spec.hostPID && !spec.hostIPC, `${id}: uses host namespaces`);
  for (const v of spec.volumes || []) expect(!v.hostPath, `${id}: volume ${v.name} is a hostPath`);
  const containers = allContainers(spec);
  expect(containers.length > 0, `${id}: no containers`);
  for (const c of containers) {
    const cid = `${id}: container ${c.name}`;
    const sc = c.securityContext || {};
    expect(sc.runAsNonRoot === true, `${cid}: runAsNonRoot is not true`);
    expect(sc.runAsUser === undefined || (Number.isInteger(sc.runAsUser) && sc.runAsUser > 0), `${cid}: runAsUser is root or not numeric`);
    expect(sc.allowPrivilegeEscalation === false, `${cid}: allowPrivilegeEscalation is not false`);
    expect(sc.readOnlyRootFilesystem === true, `${cid}: readOnlyRootFilesystem is not true`);
    expect(sc.privileged !== true, `${cid}: privileged`);
    const caps = sc.capabilities || {};
    expect(Array.isArray(caps.drop) && caps.drop.includes('ALL'), `${cid}: capabilities do not drop ALL`);
    expect(!caps.add || caps.add.length === 0, `${cid}: adds capabilities`);
    expect(!sc.seccompProfile || sc.seccompProfile.type === 'RuntimeDefault', `${cid}: seccompProfile is not RuntimeDefault`);
    const r = c.resources || {};
    for (const k of ['requests', 'limits']) {
      for (const res of ['cpu', 'memory']) {
        expect(r[k] && r[k][res] !== undefined, `${cid}: no resources.${k}.${res}`);
      }
    }
  }
}

function containerPort(c, port) {
  if (typeof port === 'number') return port;
  const p = (c.ports || []).find((x) => x.name === port);
  return p ? p.containerPort : undefined;
}

// The file a container sees at |path| must come from a volume: returns
// { volume, rest } or undefined.
function volumeFor(podSpec, c, path) {
  let best;
  for (const m of c.volumeMounts || []) {
    const mp = m.mountPath.replace(/\/$/, '');
    if (path.startsWith(mp + '/') && (!best || mp.length > best.mp.length)) best = { mp, m };
  }
  if (!best) return undefined;
  const volume = (podSpec.volumes || []).find((v) => v.name === best.m.name);
  return volume ? { volume, rest: path.slice(best.mp.length + 1), mount: best.m } : undefined;
}

// Which ConfigMap/Secret key backs |rest| inside |volume|: [{kind, name, key}] or [].
function sourcesFor(volume, rest) {
  const out = [];
  const one = (kind, src) => {
    if (!src) return;
    if (src.items) {
      for (const it of src.items) if (it.path === rest) out.push({ kind, name: src.name, key: it.key });
    } else if (!rest.includes('/')) {
      out.push({ kind, name: src.name || src.secretName, key: rest });
    }
  };
  one('ConfigMap', volume.configMap);
  if (volume.secret) one('Secret', { ...volume.secret, name: volume.secret.secretName });
  for (const s of (volume.projected && volume.projected.sources) || []) {
    one('ConfigMap', s.configMap);
    one('Secret', s.secret);
    if (s.serviceAccountToken && s.serviceAccountToken.path === rest) out.push({ kind: 'token', src: s.serviceAccountToken });
  }
  return out;
}

function keyOf(docs, kind, name, key) {
  const o = docs.find((d) => d.kind === kind && d.metadata && d.metadata.name === name);
  if (!o) return undefined;
  if (o.data && key in o.data) return kind === 'Secret' ? Buffer.from(o.data[key], 'base64').toString('utf8') : o.data[key];
  if (o.stringData && key in o.stringData) return o.stringData[key];
  return null;
}

function serverCheck(docs) {
  const ns = findObjects(docs, 'Namespace', 'signet');
  expect(ns.length === 1, 'no Namespace signet');
  for (const o of docs) {
    if (o.kind === 'Namespace') continue;
    expect(o.metadata && o.metadata.namespace === 'signet', `${o.kind}/${o.metadata && o.metadata.name}: not in namespace signet`);
  }
  const sas = findObjects(docs, 'ServiceAccount', 'signet');
  expect(sas.length === 1 && sas[0].automountServiceAccountToken === false, 'ServiceAccount signet: automountServiceAccountToken is not false');
  expect(findObjects(docs, 'Deployment').length === 0, 'the server must not be a Deployment next to the StatefulSet');

  const sts = findObjects(docs, 'StatefulSet', 'signet');
  if (!expect(sts.length === 1, 'no StatefulSet signet')) return;
  const s = sts[0];
  const id = 'StatefulSet/signet';
  expect(s.metadata.namespace === 'signet', `${id}: not in namespace signet`);
  expect(s.spec.replicas === 1, `${id}: replicas is not 1 (LMDB has one writer)`);
  const tmpl = s.spec.template || {};
  const podLabels = (tmpl.metadata && tmpl.metadata.labels) || {};
  expect(labelsMatch(s.spec.selector, podLabels), `${id}: selector does not match the pod labels`);
  podHardening(id, tmpl);
  const spec = tmpl.spec || {};
  expect(spec.serviceAccountName === 'signet', `${id}: serviceAccountName is not signet`);
  const headless = findObjects(docs, 'Service', s.spec.serviceName);
  expect(headless.length === 1 && headless[0].spec.clusterIP === 'None', `${id}: serviceName does not name a headless Service`);

  const c = (spec.containers || []).find((x) => x.name === 'signet');
  if (!expect(c, `${id}: no container signet`)) return;
  const probe = (p, path) =>
    expect(p && p.httpGet && p.httpGet.path === path && containerPort(c, p.httpGet.port) === 8080,
      `${id}: probe is not GET ${path} on the HTTP port 8080`);
  probe(c.livenessProbe, '/healthz');
  probe(c.readinessProbe, '/readyz');
  const ports = (c.ports || []).map((p) => p.containerPort).sort();
  expect(JSON.stringify(ports) === JSON.stringify([8080, 8443]), `${id}: container ports are not 8443 and 8080`);
  const args = [...(c.command || []).slice(1), ...(c.args || [])];
  const cfgPath = args[0] === 'serve' && args[1] === '--config' ? args[2] : undefined;
  expect(cfgPath === '/etc/signet/signet.json', `${id}: args are not serve --config /etc/signet/signet.json`);

  // The store lives on the claim, and the claim is the only writable storage
  // besides a small in-memory /tmp.
  const vct = (s.spec.volumeClaimTemplates || []).map((v) => v.metadata.name);
  expect(vct.length === 1, `${id}: needs exactly one volumeClaimTemplate`);
  const dataMount = (c.volumeMounts || []).find((m) => m.name === vct[0]);
  expect(dataMount && dataMount.mountPath === '/var/lib/signet', `${id}: the claim is not mounted at /var/lib/signet`);

  // The config file, and every file it names, come from the ConfigMap/Secret.
  const cmRef = cfgPath && volumeFor(spec, c, cfgPath);
  const cmSrc = cmRef ? sourcesFor(cmRef.volume, cmRef.rest) : [];
  if (!expect(cmSrc.length === 1 && cmSrc[0].kind === 'ConfigMap', `${id}: ${cfgPath} does not come from a ConfigMap`)) return;
  const text = keyOf(docs, 'ConfigMap', cmSrc[0].name, cmSrc[0].key);
  if (!expect(typeof text === 'string', `ConfigMap ${cmSrc[0].name} with key ${cmSrc[0].key} is not rendered`)) return;
  let cfg;
  try {
    cfg = JSON.parse(text);
  } catch (e) {
    expect(false, `signet.json is not JSON: ${e.message}`);
    return;
  }
  expect(cfg.listen && cfg.listen.https === '0.0.0.0:8443' && cfg.listen.http === '0.0.0.0:8080', 'signet.json: listen is not 0.0.0.0:8443 and 0.0.0.0:8080');
  expect(cfg.public_url === 'http://signet.signet.svc:8080', 'signet.json: public_url is not the Service URL');
  expect(cfg.store && cfg.store.path === '/var/lib/signet/db', 'signet.json: store.path is not /var/lib/signet/db');
  expect(typeof cfg.trust_domain === 'string' && /^[a-z0-9._-]+$/.test(cfg.trust_domain), 'signet.json: bad trust_domain');
  const k8s = (cfg.auth && cfg.auth.kubernetes) || {};
  expect(Array.isArray(k8s.audiences) && k8s.audiences.includes('signet'), 'signet.json: kubernetes audiences lack signet');
  const files = [];
  for (const k of ['roots', 'intermediate_cert', 'intermediate_key', 'root_crl']) if (cfg.pki && cfg.pki[k]) files.push([`pki.${k}`, cfg.pki[k]]);
  files.push(['auth.kubernetes.jwks_file', k8s.jwks_file]);
  for (const p of (cfg.auth && cfg.auth.provisioners) || []) files.push([`provisioner ${p.name}`, p.public_key]);
  for (const [what, f] of files) {
    const ref = typeof f === 'string' && f.startsWith('/') ? volumeFor(spec, c, f) : undefined;
    const src = ref ? sourcesFor(ref.volume, ref.rest) : [];
    if (!expect(src.length === 1, `signet.json ${what} = ${f} is not provided by a volume item`)) continue;
    // The Secret is site data (an overlay or kubectl create secret); a
    // rendered one must hold the key.
    const v = keyOf(docs, src[0].kind, src[0].name, src[0].key);
    expect(v !== null && (v !== undefined || src[0].kind === 'Secret'), `signet.json ${what}: ${src[0].kind} ${src[0].name} has no key ${src[0].key}`);
  }

  const svc = findObjects(docs, 'Service', 'signet');
  if (expect(svc.length === 1, 'no Service signet')) {
    const sp = svc[0].spec;
    const byPort = Object.fromEntries((sp.ports || []).map((p) => [p.port, p]));
    expect(byPort[8443] && byPort[8443].name === 'https' && containerPort(c, byPort[8443].targetPort) === 8443, 'Service signet: no https 8443 port to the container');
    expect(byPort[8080] && byPort[8080].name === 'http' && containerPort(c, byPort[8080].targetPort) === 8080, 'Service signet: no http 8080 port to the container');
    expect(labelsMatch({ matchLabels: sp.selector }, podLabels), 'Service signet: selector does not match the pod');
  }

  const nps = findObjects(docs, 'NetworkPolicy').filter((n) => labelsMatch(n.spec.podSelector, podLabels));
  if (expect(nps.length === 1, 'no NetworkPolicy selects the server pod')) {
    const n = nps[0].spec;
    expect((n.policyTypes || []).includes('Ingress') && (n.policyTypes || []).includes('Egress'), 'NetworkPolicy: policyTypes are not Ingress and Egress');
    expect(!n.egress || n.egress.length === 0, 'NetworkPolicy: allows egress');
    const ports = [];
    for (const r of n.ingress || []) for (const p of r.ports || []) ports.push(containerPort(c, p.port));
    expect(ports.length > 0 && ports.every((p) => p === 8443 || p === 8080) && ports.includes(8443) && ports.includes(8080),
      'NetworkPolicy: ingress is not exactly ports 8443 and 8080');
  }

  const pdbs = findObjects(docs, 'PodDisruptionBudget').filter((p) => labelsMatch(p.spec.selector, podLabels));
  if (expect(pdbs.length === 1, 'no PodDisruptionBudget selects the server pod')) {
    const p = pdbs[0].spec;
    expect(p.maxUnavailable === 1 || p.minAvailable === 0, 'PodDisruptionBudget: a single replica needs maxUnavailable 1 (or minAvailable 0), else drains block');
  }
}

function flag(args, name) {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

function workloadCheck(docs) {
  const deps = findObjects(docs, 'Deployment');
  if (!expect(deps.length > 0, 'no Deployment')) return;
  for (const d of deps) {
    const id = `Deployment/${d.metadata.name}`;
    const spec = (d.spec.template && d.spec.template.spec) || {};
    podHardening(id, d.spec.template);
    const agents = (spec.initContainers || []).filter((c) => (c.args || [])[0] === 'agent');
    if (!expect(agents.length === 1, `${id}: no signet agent init container`)) continue;
    const a = agents[0];
    expect(a.restartPolicy === 'Always', `${id}: the agent is not a native sidecar (restartPolicy Always)`);
    const server = flag(a.args, '--server');
    expect(typeof server === 'string' && server.startsWith('https://signet.signet.svc:8443'), `${id}: --server is not https://signet.signet.svc:8443`);

    const tokenFile = flag(a.args, '--token-file');
    const tref = tokenFile && volumeFor(spec, a, tokenFile);
    const tsrc = tref ? sourcesFor(tref.volume, tref.rest).filter((x) => x.kind === 'token') : [];
    if (expect(tsrc.length === 1, `${id}: --token-file ${tokenFile} is not a projected service-account token`)) {
      expect(tsrc[0].src.audience === 'signet', `${id}: projected token audience is not signet`);
      expect(tsrc[0].src.expirationSeconds === 3600, `${id}: projected token expirationSeconds is not 3600`);
    }

    const ca = flag(a.args, '--ca');
    const cref = ca && volumeFor(spec, a, ca);
    const csrc = cref ? sourcesFor(cref.volume, cref.rest) : [];
    expect(csrc.length === 1 && typeof keyOf(docs, csrc[0].kind, csrc[0].name, csrc[0].key) === 'string',
      `${id}: --ca ${ca} is not a key of a rendered ConfigMap`);

    const out = flag(a.args, '--out');
    const om = (a.volumeMounts || []).find((m) => out && m.mountPath.replace(/\/$/, '') === out.replace(/\/$/, ''));
    const ov = om && (spec.volumes || []).find((v) => v.name === om.name);
    if (expect(ov && ov.emptyDir, `${id}: --out ${out} is not an emptyDir mount of the agent`)) {
      expect(!om.readOnly, `${id}: the agent's --out mount is read-only`);
      const apps = (spec.containers || []).filter((c) => (c.volumeMounts || []).some((m) => m.name === ov.name));
      expect(apps.length > 0, `${id}: no app container shares the agent's --out volume`);
      for (const app of apps) {
        const m = app.volumeMounts.find((x) => x.name === ov.name);
        expect(m.readOnly === true, `${id}: ${app.name} mounts the SVID volume writable`);
      }
    }
  }
}

function siteCheck(docs, td) {
  const cms = findObjects(docs, 'ConfigMap', 'signet-config*');
  const secrets = findObjects(docs, 'Secret', 'signet-pki*');
  if (!expect(cms.length === 1, 'site: no single ConfigMap signet-config*')) return;
  if (!expect(secrets.length === 1, 'site: no single Secret signet-pki*')) return;
  const cm = cms[0];
  const sec = secrets[0];
  let cfg = {};
  try {
    cfg = JSON.parse(cm.data['signet.json']);
  } catch (e) {
    expect(false, `site: signet.json: ${e.message}`);
  }
  expect(cfg.trust_domain === td, `site: trust_domain is ${cfg.trust_domain}, not ${td}`);
  const admins = (cfg.auth && cfg.auth.admins) || [];
  expect(admins.every((a) => a.startsWith(`spiffe://${td}/`)), 'site: an admin is outside the trust domain');
  let jwks = {};
  try {
    jwks = JSON.parse(cm.data['k8s-jwks.json']);
  } catch (e) {
    expect(false, `site: k8s-jwks.json: ${e.message}`);
  }
  expect(Array.isArray(jwks.keys) && jwks.keys.length > 0, 'site: k8s-jwks.json has no keys');
  const data = sec.data || {};
  expect(JSON.stringify(Object.keys(data).sort()) === JSON.stringify(['intermediate.crt', 'intermediate.key', 'root.crl', 'roots.pem']),
    `site: Secret keys are ${Object.keys(data).sort().join(',')}`);
  const dec = (k) => Buffer.from(data[k] || '', 'base64').toString('utf8');
  expect(/-----BEGIN CERTIFICATE-----/.test(dec('roots.pem')), 'site: roots.pem is not PEM certificates');
  expect(/-----BEGIN CERTIFICATE-----/.test(dec('intermediate.crt')), 'site: intermediate.crt is not a PEM certificate');
  expect(/-----BEGIN (EC |)PRIVATE KEY-----/.test(dec('intermediate.key')), 'site: intermediate.key is not a PEM private key');
  expect(/-----BEGIN X509 CRL-----/.test(dec('root.crl')) || dec('root.crl').length > 0, 'site: root.crl is empty');
  const sts = findObjects(docs, 'StatefulSet', 'signet')[0];
  const vols = (sts && sts.spec.template.spec.volumes) || [];
  const srcs = vols.flatMap((v) => (v.projected && v.projected.sources) || []);
  expect(srcs.some((s) => s.secret && s.secret.name === sec.metadata.name), `site: the StatefulSet does not mount Secret ${sec.metadata.name}`);
  expect(srcs.some((s) => s.configMap && s.configMap.name === cm.metadata.name), `site: the StatefulSet does not mount ConfigMap ${cm.metadata.name}`);
}

// ---- main ----

function runCommand(command, docs, extra) {
  expect(docs.length > 0, 'no objects');
  if (command === 'schema') schemaCheck(docs);
  else if (command === 'server') serverCheck(docs);
  else if (command === 'workload') workloadCheck(docs);
  else if (command === 'site') {
    if (!extra) usage('site needs TRUST_DOMAIN');
    siteCheck(docs, extra);
  } else usage(`unknown command ${command}`);
}

const argv = process.argv.slice(2);
const positional = [];
const mutations = [];
let casesFile;
for (let i = 0; i < argv.length; i++) {
  if (argv[i] === '--set' || argv[i] === '--delete' || argv[i] === '--each-breaks') {
    if (i + 1 >= argv.length) usage(`${argv[i]} needs a value`);
    if (argv[i] === '--each-breaks') casesFile = argv[++i];
    else mutations.push([argv[i], argv[++i]]);
  } else {
    positional.push(argv[i]);
  }
}
const [command, file, extra] = positional;
if (!command || !file) usage('usage: check.js schema|server|workload|site FILE [TRUST_DOMAIN] [--set|--delete SPEC]... [--each-breaks CASES]');

if (casesFile) {
  const text = fs.readFileSync(file, 'utf8');
  let missed = 0;
  for (const line of fs.readFileSync(casesFile, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    const sp = line.indexOf(' ');
    const op = line.slice(0, sp);
    if (op !== '--set' && op !== '--delete') usage(`bad case line: ${line}`);
    const docs = YAML.parseAllDocuments(text).map((d) => d.toJS()).filter((o) => o !== null && o !== undefined);
    mutate(docs, line.slice(sp + 1), op === '--delete');
    failures.length = 0;
    runCommand(command, docs, extra);
    if (failures.length) {
      process.stdout.write(`breaks: ${line}: ${failures[0]}\n`);
    } else {
      process.stdout.write(`MISSED: ${line}\n`);
      missed++;
    }
  }
  process.exit(missed ? 1 : 0);
}

const docs = loadDocs(file);
for (const [op, spec] of mutations) mutate(docs, spec, op === '--delete');
runCommand(command, docs, extra);

if (failures.length) {
  for (const f of failures) process.stdout.write(`FAIL: ${f}\n`);
  process.exit(1);
}
process.stdout.write(`ok: ${command}: ${docs.length} objects, ${checks} checks\n`);
