// Generates core/protocol/messages/ from the Kafka message definitions.
//
//   npx tsx core/protocol/generate.ts <path-to-kafka-messages-dir>
//
// The definitions are read only here, at development time; the generated TypeScript is
// committed so that nothing reads them at build, run or test time. This is a developer tool,
// the one file under core/ that touches the file system; the codec never imports it.
import { readFileSync, readdirSync, writeFileSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { VERSION_MAX } from './schema.ts';
import type { PrimitiveType, VersionRange } from './schema.ts';

export interface JsonField {
  name: string;
  type: string;
  versions: string;
  nullableVersions?: string;
  taggedVersions?: string;
  tag?: number;
  default?: string | number | boolean;
  mapKey?: boolean;
  ignorable?: boolean;
  fields?: JsonField[];
}

export interface JsonStruct {
  name: string;
  versions: string;
  fields: JsonField[];
}

export interface JsonMessage {
  apiKey: number;
  type: 'request' | 'response';
  name: string;
  validVersions: string;
  flexibleVersions: string;
  latestVersionUnstable?: boolean;
  fields: JsonField[];
  commonStructs?: JsonStruct[];
}

const PRIMITIVES: ReadonlySet<string> = new Set<PrimitiveType>([
  'bool', 'int8', 'int16', 'uint16', 'int32', 'uint32', 'int64', 'float64', 'string', 'uuid', 'bytes', 'records',
]);

/** Names a generated interface must not take because TypeScript or Node already use them. */
const RESERVED_NAMES: ReadonlySet<string> = new Set(['Buffer', 'Record', 'Map', 'Set', 'Array', 'Error', 'Date', 'Partial', 'Object']);

/** Removes `//` comments outside string literals; the definitions are JSON with comments. */
export function stripJsonComments(text: string): string {
  let output = '';
  let inString = false;
  for (let index = 0; index < text.length; index++) {
    const character = text[index] as string;
    if (inString) {
      output += character;
      if (character === '\\') output += text[++index] ?? '';
      else if (character === '"') inString = false;
    } else if (character === '"') {
      inString = true;
      output += character;
    } else if (character === '/' && text[index + 1] === '/') {
      while (index < text.length && text[index] !== '\n') index++;
      output += '\n';
    } else {
      output += character;
    }
  }
  return output;
}

export function parseVersions(text: string | undefined): VersionRange | null {
  if (text === undefined || text === 'none') return null;
  const plus = /^(\d+)\+$/.exec(text);
  if (plus !== null) return [Number(plus[1]), VERSION_MAX];
  const range = /^(\d+)-(\d+)$/.exec(text);
  if (range !== null) return [Number(range[1]), Number(range[2])];
  if (/^\d+$/.test(text)) return [Number(text), Number(text)];
  throw new Error(`bad version range ${JSON.stringify(text)}`);
}

function camelCase(name: string): string {
  return name.charAt(0).toLowerCase() + name.slice(1);
}

function kebabCase(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, '$1-$2').replace(/([A-Z])([A-Z][a-z])/g, '$1-$2').toLowerCase();
}

function renderRange(range: VersionRange): string {
  return `[${range[0]}, ${range[1] === VERSION_MAX ? 'VERSION_MAX' : range[1]}]`;
}

function describeRange(range: VersionRange): string {
  if (range[1] === VERSION_MAX) return `${range[0]}+`;
  return range[0] === range[1] ? `${range[0]}` : `${range[0]}-${range[1]}`;
}

/** Converts a definition's default to a TypeScript literal of the field's type. */
function renderDefault(field: JsonField, elementType: string): string | null {
  if (field.default === undefined) return null;
  const text = String(field.default).trim();
  if (text === 'null') return 'null';
  if (elementType === 'int64') return `${BigInt(text)}n`;
  if (['int8', 'int16', 'uint16', 'int32', 'uint32', 'float64'].includes(elementType)) return String(Number(text));
  if (elementType === 'bool') return text === 'true' ? 'true' : 'false';
  if (elementType === 'string') return JSON.stringify(text);
  throw new Error(`field ${field.name}: unsupported default ${text} for ${elementType}`);
}

/** Everything the emitter needs for one side (request or response) of an API. */
class SideEmitter {
  readonly structDeclarations: string[] = [];
  readonly interfaces: string[] = [];
  private readonly emittedCommon = new Set<string>();
  private readonly common: Map<string, JsonStruct>;

  constructor(
    readonly message: JsonMessage,
    private readonly interfaceName: (structName: string) => string,
    private readonly constPrefix: string,
  ) {
    this.common = new Map((message.commonStructs ?? []).map((struct) => [struct.name, struct]));
  }

  /** Returns the schema literal for a list of fields and records the interface. */
  renderFields(fields: JsonField[], interfaceName: string, indent: string): string {
    const members: string[] = [];
    const literals = fields.map((field) => {
      const { literal, tsType } = this.renderField(field, indent + '  ');
      members.push(`  /** ${this.describeField(field)} */\n  ${camelCase(field.name)}: ${tsType};`);
      return `${indent}  ${literal},`;
    });
    this.interfaces.push(`export interface ${interfaceName} {\n${members.join('\n')}\n}`);
    return `[\n${literals.join('\n')}\n${indent}]`;
  }

  private describeField(field: JsonField): string {
    const parts = [`Versions ${field.versions}`];
    if (field.nullableVersions !== undefined) parts.push(`nullable ${field.nullableVersions}`);
    if (field.tag !== undefined) parts.push(`tag ${field.tag}`);
    if (field.default !== undefined) parts.push(`default ${String(field.default)}`);
    return `${parts.join(', ')}.`;
  }

  private renderField(field: JsonField, indent: string): { literal: string; tsType: string } {
    const isArray = field.type.startsWith('[]');
    const elementType = isArray ? field.type.slice(2) : field.type;
    const versions = parseVersions(field.versions);
    if (versions === null) throw new Error(`field ${field.name} has no versions`);
    const nullable = parseVersions(field.nullableVersions);
    const parts = [`name: '${camelCase(field.name)}'`];
    let tsType: string;
    if (PRIMITIVES.has(elementType)) {
      parts.push(isArray ? `type: 'array', element: '${elementType}'` : `type: '${elementType}'`);
      tsType = primitiveTsType(elementType);
    } else {
      const { reference, name } = this.renderStruct(field, elementType, indent);
      parts.push(isArray ? `type: 'array', element: 'struct', struct: ${reference}` : `type: 'struct', struct: ${reference}`);
      tsType = name;
    }
    if (isArray) tsType = `${tsType}[]`;
    if ((nullable !== null && !tsType.endsWith('| null')) || (elementType === 'records' && !isArray && !tsType.endsWith('| null'))) {
      tsType = `${tsType} | null`;
    }
    parts.push(`versions: ${renderRange(versions)}`);
    if (nullable !== null) parts.push(`nullableVersions: ${renderRange(nullable)}`);
    if (field.tag !== undefined) parts.push(`tag: ${field.tag}`);
    const defaultLiteral = isArray ? null : renderDefault(field, elementType);
    if (defaultLiteral !== null) parts.push(`default: ${defaultLiteral}`);
    if (field.mapKey === true) parts.push('mapKey: true');
    if (field.ignorable === true) parts.push('ignorable: true');
    return { literal: `{ ${parts.join(', ')} }`, tsType };
  }

  /** Inline structs are nested literals; common structs become shared constants. */
  private renderStruct(field: JsonField, structName: string, indent: string): { reference: string; name: string } {
    const name = this.interfaceName(structName);
    if (field.fields !== undefined) {
      const fields = this.renderFields(field.fields, name, indent);
      return { reference: `{ name: '${structName}', fields: ${fields} }`, name };
    }
    const common = this.common.get(structName);
    if (common === undefined) throw new Error(`${this.message.name}: unknown struct ${structName}`);
    const constName = `${this.constPrefix}${structName}Struct`;
    if (!this.emittedCommon.has(structName)) {
      this.emittedCommon.add(structName);
      const fields = this.renderFields(common.fields, name, '');
      this.structDeclarations.push(`const ${constName}: StructSchema = { name: '${structName}', fields: ${fields} };`);
    }
    return { reference: constName, name };
  }
}

function primitiveTsType(type: string): string {
  switch (type) {
    case 'bool':
      return 'boolean';
    case 'int64':
      return 'bigint';
    case 'string':
    case 'uuid':
      return 'string';
    case 'bytes':
      return 'Buffer';
    case 'records':
      return 'Buffer | null';
    default:
      return 'number';
  }
}

function structNames(message: JsonMessage): Set<string> {
  const names = new Set<string>((message.commonStructs ?? []).map((struct) => struct.name));
  const visit = (fields: JsonField[]): void => {
    for (const field of fields) {
      if (field.fields === undefined) continue;
      names.add(field.type.replace(/^\[\]/, ''));
      visit(field.fields);
    }
  };
  visit(message.fields);
  return names;
}

function apiNameOf(message: JsonMessage): string {
  return message.name.replace(/(Request|Response)$/, '');
}

function renderSide(message: JsonMessage, otherSideNames: Set<string>, apiName: string): SideEmitter {
  const bodyName = message.name;
  const reserved = new Set([...RESERVED_NAMES, `${apiName}Request`, `${apiName}Response`]);
  const interfaceName = (structName: string): string =>
    otherSideNames.has(structName) || reserved.has(structName) ? `${bodyName}${structName}` : structName;
  const emitter = new SideEmitter(message, interfaceName, message.type);
  const fields = emitter.renderFields(message.fields, bodyName, '  ');
  const validVersions = parseVersions(message.validVersions);
  if (validVersions === null) throw new Error(`${message.name}: no valid versions`);
  const flexible = parseVersions(message.flexibleVersions);
  emitter.structDeclarations.push(
    `const ${message.type}Schema: MessageSchema = {\n` +
      `  apiKey: ${message.apiKey},\n  apiName: '${apiName}',\n  direction: '${message.type}',\n` +
      `  validVersions: ${renderRange(validVersions)},\n` +
      `  flexibleVersions: ${flexible === null ? 'null' : renderRange(flexible)},\n` +
      `  latestVersionUnstable: ${message.latestVersionUnstable === true},\n` +
      `  fields: ${fields},\n};`,
  );
  return emitter;
}

export function renderApiFile(request: JsonMessage, response: JsonMessage): string {
  const apiName = apiNameOf(request);
  const requestSide = renderSide(request, structNames(response), apiName);
  const responseSide = renderSide(response, structNames(request), apiName);
  const schemaName = `${camelCase(apiName)}Schema`;
  // TypeScript merges interfaces of the same name silently, so a clash must fail here.
  const interfaceNames = [...requestSide.interfaces, ...responseSide.interfaces].map((text) => /^export interface (\w+)/.exec(text)?.[1]);
  const clash = interfaceNames.find((name, index) => interfaceNames.indexOf(name) !== index);
  if (clash !== undefined) throw new Error(`${apiName}: two structs would both be named ${clash}`);
  return [
    `// Generated by core/protocol/generate.ts from the Kafka message definitions. Do not edit.`,
    `// ${apiName} (API key ${request.apiKey}): request versions ${describeRange(parseVersions(request.validVersions) ?? [0, 0])},` +
      ` flexible ${request.flexibleVersions}.`,
    `// Field comments give each field's versions; uuid fields hold the canonical 8-4-4-4-12 form.`,
    `import { VERSION_MAX } from '../schema.ts';`,
    `import type { ApiSchema, MessageSchema, StructSchema } from '../schema.ts';`,
    '',
    ...requestSide.structDeclarations.map((text) => `${text}\n`),
    ...responseSide.structDeclarations.map((text) => `${text}\n`),
    `export const ${schemaName}: ApiSchema = { apiKey: ${request.apiKey}, apiName: '${apiName}', request: requestSchema, response: responseSchema };`,
    '',
    ...[...requestSide.interfaces, ...responseSide.interfaces].reverse().map((text) => `${text}\n`),
  ].join('\n');
}

function fileNameOf(apiKey: number, apiName: string): string {
  return `${String(apiKey).padStart(2, '0')}-${kebabCase(apiName)}`;
}

function renderIndex(apis: { apiKey: number; apiName: string }[]): string {
  const lines = [
    `// Generated by core/protocol/generate.ts from the Kafka message definitions. Do not edit.`,
    `import type { ApiSchema } from '../schema.ts';`,
  ];
  for (const { apiKey, apiName } of apis) {
    const file = fileNameOf(apiKey, apiName);
    lines.push(`import { ${camelCase(apiName)}Schema } from './${file}.ts';`);
    lines.push(`import type { ${apiName}Request, ${apiName}Response } from './${file}.ts';`);
    lines.push(`export type { ${apiName}Request, ${apiName}Response } from './${file}.ts';`);
  }
  lines.push('', '/** Kafka API keys by name. */', 'export const ApiKey = {');
  for (const { apiKey, apiName } of apis) lines.push(`  ${apiName}: ${apiKey},`);
  lines.push('} as const;', '', 'export type ApiKey = (typeof ApiKey)[keyof typeof ApiKey];', '');
  lines.push('/** Every API schema, indexed by API key. */', 'export const API_SCHEMAS: ReadonlyMap<number, ApiSchema> = new Map([');
  for (const { apiKey, apiName } of apis) lines.push(`  [${apiKey}, ${camelCase(apiName)}Schema],`);
  lines.push(']);', '');
  for (const direction of ['Request', 'Response']) {
    lines.push(`export interface ${direction}BodyByKey {`);
    for (const { apiKey, apiName } of apis) lines.push(`  ${apiKey}: ${apiName}${direction};`);
    lines.push('}', '');
  }
  return lines.join('\n');
}

function loadMessages(directory: string): JsonMessage[] {
  return readdirSync(directory)
    .filter((file) => file.endsWith('.json'))
    .sort()
    .map((file) => JSON.parse(stripJsonComments(readFileSync(join(directory, file), 'utf8'))) as JsonMessage)
    .filter((message) => message.type === 'request' || message.type === 'response');
}

function main(): void {
  const directory = process.argv[2];
  if (directory === undefined) {
    console.error('usage: npx tsx core/protocol/generate.ts <path-to-kafka-messages-dir>');
    process.exit(2);
  }
  const pairs = new Map<number, { request?: JsonMessage; response?: JsonMessage }>();
  for (const message of loadMessages(directory)) {
    const pair = pairs.get(message.apiKey) ?? {};
    pair[message.type] = message;
    pairs.set(message.apiKey, pair);
  }
  const outputDirectory = fileURLToPath(new URL('./messages/', import.meta.url));
  rmSync(outputDirectory, { recursive: true, force: true });
  mkdirSync(outputDirectory, { recursive: true });
  const apis: { apiKey: number; apiName: string }[] = [];
  for (const apiKey of [...pairs.keys()].sort((a, b) => a - b)) {
    const { request, response } = pairs.get(apiKey) ?? {};
    if (request === undefined || response === undefined) throw new Error(`API key ${apiKey} lacks a request or response`);
    const apiName = apiNameOf(request);
    writeFileSync(join(outputDirectory, `${fileNameOf(apiKey, apiName)}.ts`), renderApiFile(request, response));
    apis.push({ apiKey, apiName });
  }
  writeFileSync(join(outputDirectory, 'index.ts'), renderIndex(apis));
  console.log(`wrote ${apis.length} APIs to ${outputDirectory}`);
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) main();
