import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { Parser } from '@asyncapi/parser';
import { Ajv, type ValidateFunction } from 'ajv';

export const ASYNCAPI_PATH = fileURLToPath(new URL('../../../docs/asyncapi.yaml', import.meta.url));

export interface Diagnostic {
  severity: number;
  code: string | number;
  message: string;
  path: (string | number)[];
}

/** The document, parsed and validated by @asyncapi/parser, as validators of its frames. */
export interface Contract {
  diagnostics: Diagnostic[];
  /** command type → validator of the command frame */
  commands: Map<string, ValidateFunction>;
  /** command type → validators of the replies it may get (result and refusal) */
  replies: Map<string, { name: string; validate: ValidateFunction }[]>;
  /** event name → validator */
  events: Map<string, ValidateFunction>;
  /** the error codes of the refusal message */
  errorCodes: string[];
}

export async function loadContract(): Promise<Contract> {
  const { document, diagnostics } = await new Parser().parse(await readFile(ASYNCAPI_PATH, 'utf8'));
  const diags = diagnostics as unknown as Diagnostic[];
  if (!document) throw new Error(`asyncapi.yaml does not parse: ${JSON.stringify(diags)}`);
  // The parser annotates schemas with x-parser-* keys; ajv's strict mode would refuse them.
  const ajv = new Ajv({ strict: false, allErrors: true });
  const compiled = new Map<string, ValidateFunction>();
  const validator = (name: string, schema: unknown): ValidateFunction => {
    if (!compiled.has(name)) compiled.set(name, ajv.compile(schema as object));
    return compiled.get(name)!;
  };
  const commands = new Map<string, ValidateFunction>();
  const replies = new Map<string, { name: string; validate: ValidateFunction }[]>();
  const events = new Map<string, ValidateFunction>();
  let errorCodes: string[] = [];
  for (const op of document.operations().all()) {
    for (const m of op.messages().all()) {
      const payload = m.payload()?.json() as { properties?: Record<string, { const?: string }> } | undefined;
      if (op.action() === 'receive') {
        const type = payload?.properties?.type?.const;
        if (!type) throw new Error(`command message ${m.name()} has no type const`);
        commands.set(type, validator(m.name()!, payload));
        replies.set(
          type,
          (op.reply()?.messages().all() ?? []).map((r) => {
            const schema = r.payload()?.json() as { properties?: { error?: { properties?: { code?: { enum?: string[] } } } } };
            if (r.name() === 'errorReply') errorCodes = schema.properties?.error?.properties?.code?.enum ?? [];
            return { name: r.name()!, validate: validator(r.name()!, schema) };
          }),
        );
      } else {
        const event = payload?.properties?.event?.const;
        if (!event) throw new Error(`event message ${m.name()} has no event const`);
        events.set(event, validator(m.name()!, payload));
      }
    }
  }
  return { diagnostics: diags, commands, replies, events, errorCodes };
}

/** Why a frame does not match: ajv's errors, short. */
export function why(v: ValidateFunction): string {
  return JSON.stringify((v.errors ?? []).map((e) => `${e.instancePath} ${e.message}`));
}
