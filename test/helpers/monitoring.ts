/** k8s/monitoring for the tests: the PrometheusRule's groups, promtool, the PromQL of rules and dashboard, /metrics. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { K8S_DIR } from './k8s/render.js';

export const MONITORING_DIR = join(K8S_DIR, 'monitoring');

export interface AlertRule {
  readonly alert: string;
  readonly expr: string;
  readonly for?: string;
  readonly labels?: Record<string, string>;
  readonly annotations?: Record<string, string>;
}
export interface RuleGroup {
  readonly name: string;
  readonly rules: AlertRule[];
}

/** The rule groups of prometheus-rules.yaml (the one source: promtool gets them as a plain rule file). */
export function ruleGroups(): RuleGroup[] {
  const doc = parse(readFileSync(join(MONITORING_DIR, 'prometheus-rules.yaml'), 'utf8')) as { apiVersion: string; kind: string; spec: { groups: RuleGroup[] } };
  assert.equal(doc.apiVersion, 'monitoring.coreos.com/v1');
  assert.equal(doc.kind, 'PrometheusRule');
  return doc.spec.groups;
}

export function alertRules(): AlertRule[] {
  return ruleGroups().flatMap((g) => g.rules);
}

export function dashboard(): Record<string, unknown> {
  return JSON.parse(readFileSync(join(MONITORING_DIR, 'dashboard.json'), 'utf8')) as Record<string, unknown>;
}

/**
 * Runs promtool `args` in a temporary directory holding rules.yml (spec.groups of the PrometheusRule)
 * and tests.yml (copied from k8s/monitoring, whose rule_files names rules.yml).
 */
export function promtool(args: string[]): { code: number; out: string } {
  const dir = mkdtempSync(join(tmpdir(), 'evpki-promtool-'));
  try {
    writeFileSync(join(dir, 'rules.yml'), stringify({ groups: ruleGroups() }));
    copyFileSync(join(MONITORING_DIR, 'tests.yml'), join(dir, 'tests.yml'));
    const r = spawnSync('promtool', args, { cwd: dir, encoding: 'utf8' });
    if (r.error && (r.error as NodeJS.ErrnoException).code === 'ENOENT') assert.fail('promtool is not installed: apt-get install prometheus (.ci/run does)');
    if (r.error) throw r.error;
    return { code: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The metric names a PromQL expression reads: our pki_* ones and kube-state-metrics' kube_* ones. */
export function metricNames(expr: string): string[] {
  return [...new Set([...expr.matchAll(/\b((?:pki|kube)_[a-zA-Z0-9_]+)\b/g)].map((m) => m[1]!))];
}

/** Every PromQL expression of the dashboard's panels (rows included, when they hold panels). */
export function dashboardExprs(d: Record<string, unknown>): string[] {
  const panels = (d.panels as { panels?: unknown[]; targets?: { expr?: string }[] }[]).flatMap((p) => [p, ...((p.panels ?? []) as typeof p[])]);
  return panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr ?? ''));
}

/** The metric names a /metrics body declares (# TYPE lines: a labelled series with no sample yet is declared too). */
export function declaredMetrics(text: string): Map<string, string> {
  return new Map([...text.matchAll(/^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (\w+)$/gm)].map((m) => [m[1]!, m[2]!]));
}

export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** The sample lines of a /metrics body. */
export function samples(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: \d+)?$/.exec(line);
    assert.ok(m, `a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

export async function metricsText(base: string): Promise<string> {
  const res = await fetch(`${base}/metrics`);
  assert.equal(res.status, 200);
  return res.text();
}

/** The one sample of `name` whose labels include `labels` (fails on none or several). */
export function one(all: readonly Sample[], name: string, labels: Record<string, string> = {}): number {
  const found = all.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  assert.equal(found.length, 1, `one sample of ${name}${JSON.stringify(labels)}, found ${found.length}`);
  return found[0]!.value;
}
