import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DATABAG_NAMES, databagFile, parseDatabagTexts, type DatabagName } from '../cloudstack/databags.js';
import { importCloudStack } from '../cloudstack/import.js';
import type { FieldError, Parsed } from '../schema/validation.js';
import type { CloudStackImport } from '../cloudstack/import.js';

/**
 * `vr6ctl import-cloudstack DIR`: the desired state a directory of
 * CloudStack's merged databags gives (docs/cloudstack.md). It needs no
 * agent: the operator's dry run, and what the tests drive.
 */

/** Reads DIR/<databag>.json for each databag the translation knows; an absent file is null. */
export async function readDatabagTexts(dir: string): Promise<Record<DatabagName, string | null>> {
  const entries = await Promise.all(
    DATABAG_NAMES.map(async (name) => {
      try {
        return [name, await readFile(join(dir, databagFile(name)), 'utf8')] as const;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [name, null] as const;
        throw error;
      }
    }),
  );
  return Object.fromEntries(entries) as Record<DatabagName, string | null>;
}

/** The import of a directory: its files read, parsed, translated and validated. */
export async function importDirectory(dir: string): Promise<Parsed<CloudStackImport>> {
  const texts = parseDatabagTexts(await readDatabagTexts(dir));
  return texts.ok ? importCloudStack(texts.value) : texts;
}

/** Each error as one line: `<file>: <path>: <message>`. */
export function formatImportErrors(errors: readonly FieldError[]): string {
  return errors.map((error) => `${error.path}: ${error.message}\n`).join('');
}
