/**
 * Checks synthesized Terraform JSON against a provider schema document (`terraform providers schema
 * -json` format): unknown arguments, computed-only arguments set, missing required arguments, wrong
 * literal types, block nesting and min/max items. Interpolations ("${...}") are unknown at synth time
 * and accepted for any type.
 */
import { readFileSync } from "node:fs";

type AttrType = string | [string, AttrType] | [string, Record<string, AttrType>];
interface Attr { type: AttrType; required?: boolean; optional?: boolean; computed?: boolean; sensitive?: boolean }
interface Block { attributes?: Record<string, Attr>; block_types?: Record<string, BlockType> }
interface BlockType { nesting_mode: "single" | "list" | "set" | "map"; block: Block; min_items?: number; max_items?: number }
export interface ProviderSchema { resources: Record<string, Block>; dataSources: Record<string, Block>; provider: Block }

const META_ARGS = new Set(["//", "depends_on", "count", "for_each", "provider", "lifecycle", "connection", "provisioner"]);

export function loadProviderSchema(file: string): ProviderSchema {
  const doc = JSON.parse(readFileSync(file, "utf8"));
  const p = doc.provider_schemas["registry.terraform.io/terraform-provider-openstack/openstack"];
  const blocks = (m: Record<string, { block: Block }>) => Object.fromEntries(Object.entries(m).map(([k, v]) => [k, v.block]));
  return { resources: blocks(p.resource_schemas), dataSources: blocks(p.data_source_schemas), provider: p.provider.block };
}

const isInterpolation = (v: unknown) => typeof v === "string" && v.includes("${");

function checkType(t: AttrType, v: unknown, where: string, out: string[]): void {
  if (isInterpolation(v)) return;
  if (typeof t === "string") {
    const ok = t === "string" ? typeof v === "string" : t === "number" ? typeof v === "number" : t === "bool" ? typeof v === "boolean" : true;
    if (!ok) out.push(`${where}: expected ${t}, got ${JSON.stringify(v)}`);
    return;
  }
  const [kind, inner] = t;
  if (kind === "list" || kind === "set") {
    if (!Array.isArray(v)) { out.push(`${where}: expected ${kind}, got ${JSON.stringify(v)}`); return; }
    v.forEach((item, i) => checkType(inner as AttrType, item, `${where}[${i}]`, out));
  } else if (kind === "map") {
    if (v === null || typeof v !== "object" || Array.isArray(v)) { out.push(`${where}: expected map, got ${JSON.stringify(v)}`); return; }
    for (const [k, item] of Object.entries(v)) checkType(inner as AttrType, item, `${where}.${k}`, out);
  } else if (kind === "object") {
    if (v === null || typeof v !== "object") { out.push(`${where}: expected object`); return; }
    for (const [k, item] of Object.entries(v)) {
      const it = (inner as Record<string, AttrType>)[k];
      if (!it) out.push(`${where}.${k}: unknown object attribute`);
      else checkType(it, item, `${where}.${k}`, out);
    }
  }
}

export function checkBlock(block: Block, body: Record<string, unknown>, where: string, out: string[]): void {
  const attrs = block.attributes ?? {};
  const blocks = block.block_types ?? {};
  for (const [key, value] of Object.entries(body)) {
    if (META_ARGS.has(key)) continue;
    const a = attrs[key];
    const b = blocks[key];
    if (!a && !b) { out.push(`${where}.${key}: unknown argument`); continue; }
    if (a) {
      if (a.computed && !a.optional && !a.required) out.push(`${where}.${key}: computed-only argument must not be set`);
      if (value !== null && value !== undefined) checkType(a.type, value, `${where}.${key}`, out);
      continue;
    }
    const items = b!.nesting_mode === "single" ? (Array.isArray(value) ? value : [value]) : value;
    if (!Array.isArray(items)) { out.push(`${where}.${key}: block ${b!.nesting_mode} must be a list`); continue; }
    if (b!.min_items !== undefined && items.length < b!.min_items) out.push(`${where}.${key}: at least ${b!.min_items} block(s) required, got ${items.length}`);
    if (b!.max_items !== undefined && items.length > b!.max_items) out.push(`${where}.${key}: at most ${b!.max_items} block(s) allowed, got ${items.length}`);
    if (b!.nesting_mode === "single" && items.length > 1) out.push(`${where}.${key}: single block given ${items.length} times`);
    items.forEach((item, i) => {
      if (item === null || typeof item !== "object" || Array.isArray(item)) out.push(`${where}.${key}[${i}]: block must be an object`);
      else checkBlock(b!.block, item as Record<string, unknown>, `${where}.${key}[${i}]`, out);
    });
  }
  for (const [key, a] of Object.entries(attrs)) {
    if (a.required && (body[key] === undefined || body[key] === null)) out.push(`${where}.${key}: required argument missing`);
  }
  for (const [key, b] of Object.entries(blocks)) {
    if ((b.min_items ?? 0) > 0 && body[key] === undefined) out.push(`${where}.${key}: required block missing`);
  }
}

/** Every problem in a synthesized configuration; empty when it matches the schema. */
export function checkConfig(schema: ProviderSchema, tf: Record<string, any>): string[] {
  const out: string[] = [];
  for (const [kind, section, table] of [["resource", tf.resource ?? {}, schema.resources], ["data", tf.data ?? {}, schema.dataSources]] as const) {
    for (const [type, instances] of Object.entries(section as Record<string, Record<string, Record<string, unknown>>>)) {
      const block = table[type];
      if (!block) { out.push(`${kind}.${type}: unknown ${kind} type`); continue; }
      for (const [name, body] of Object.entries(instances)) checkBlock(block, body, `${kind}.${type}.${name}`, out);
    }
  }
  for (const [i, body] of ((tf.provider?.openstack ?? []) as Record<string, unknown>[]).entries()) checkBlock(schema.provider, body, `provider.openstack[${i}]`, out);
  return out;
}

/** Argument names the schema marks sensitive (passwords, secrets): none may ever be set. */
export function sensitiveArgumentsSet(schema: ProviderSchema, tf: Record<string, any>): string[] {
  const out: string[] = [];
  const visit = (block: Block, body: Record<string, unknown>, where: string) => {
    for (const [k, a] of Object.entries(block.attributes ?? {})) if (a.sensitive && body[k] !== undefined) out.push(`${where}.${k}`);
  };
  for (const [type, instances] of Object.entries((tf.resource ?? {}) as Record<string, Record<string, Record<string, unknown>>>)) {
    for (const [name, body] of Object.entries(instances)) visit(schema.resources[type] ?? {}, body, `${type}.${name}`);
  }
  for (const body of (tf.provider?.openstack ?? []) as Record<string, unknown>[]) visit(schema.provider, body, "provider.openstack");
  return out;
}
