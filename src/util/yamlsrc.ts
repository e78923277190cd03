/**
 * YAML with source positions: every config error can name file:line:col of the offending key or value.
 */
import { readFileSync } from 'node:fs';
import { isAlias, isMap, isPair, isScalar, isSeq, LineCounter, visit, parseDocument, type Document, type Node } from 'yaml';
import { ConfigError } from '../errors.js';

export type Path = (string | number)[];

/** yaml's maxAliasCount: how far one alias may expand (counted in nodes). */
export const MAX_ALIAS_COUNT = 1000;
/** The deepest nesting of mappings and lists read from a YAML or JSON file (Python's parser allows 200 brackets). */
export const MAX_DEPTH = 200;

/** Data nested deeper than MAX_DEPTH is a clear error (walked without recursion). */
export function checkDepth(value: unknown, file: string): void {
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length) {
    const [v, d] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (d >= MAX_DEPTH) throw new ConfigError(`nested too deep (the limit is ${MAX_DEPTH} levels)`, file);
    for (const c of Array.isArray(v) ? v : Object.values(v as object)) if (c !== null && typeof c === 'object') stack.push([c, d + 1]);
  }
}

export class YamlSource {
  private constructor(
    public readonly file: string,
    public readonly doc: Document,
    private readonly lc: LineCounter,
  ) {}

  static parse(text: string, file: string): YamlSource {
    const lc = new LineCounter();
    let doc: Document;
    try {
      doc = parseDocument(text, { lineCounter: lc, uniqueKeys: true, prettyErrors: true });
    } catch (e) {
      if (e instanceof RangeError) throw new ConfigError(`nested too deep (the limit is ${MAX_DEPTH} levels)`, file);
      throw e;
    }
    if (doc.errors.length) {
      const e = doc.errors[0]!;
      // yaml's own code for the stack overflow it caught while composing deeply nested data.
      if (e.code === 'RESOURCE_EXHAUSTION') throw new ConfigError(`nested too deep (the limit is ${MAX_DEPTH} levels)`, file, e.linePos?.[0]?.line);
      const pos = e.linePos?.[0];
      throw new ConfigError(`invalid YAML: ${e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')}`, file, pos?.line, pos?.col);
    }
    return new YamlSource(file, doc, lc);
  }

  static load(file: string): YamlSource {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      throw new ConfigError(`cannot read file: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, file);
    }
    return YamlSource.parse(text, file);
  }

  private js?: { value: unknown };

  /**
   * The document as plain data, once. Bounded: an alias that expands too often (a "billion laughs"
   * document) and data nested deeper than MAX_DEPTH are clear errors, never a stack trace.
   */
  toJS(): unknown {
    if (this.js) return this.js.value;
    let value: unknown;
    this.checkAliases();
    try {
      value = this.doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
    } catch (e) {
      // Every alias resolves (checked above) and aliases are enabled: yaml's one ReferenceError left is its alias count.
      if (e instanceof ReferenceError)
        throw new ConfigError(`too many expansions of YAML aliases (more than ${MAX_ALIAS_COUNT} for one alias): a document that grows exponentially is refused`, this.file);
      if (e instanceof RangeError) throw new ConfigError(`nested too deep (the limit is ${MAX_DEPTH} levels)`, this.file);
      throw e;
    }
    checkDepth(value, this.file);
    this.js = { value };
    return value;
  }

  /** An alias whose anchor is not set before it (in document order, as yaml resolves them) is a clear error. */
  private checkAliases(): void {
    const anchors = new Set<string>();
    visit(this.doc, {
      Node: (_key, node) => {
        if (isAlias(node) && !anchors.has(node.source)) {
          const line = node.range ? this.lc.linePos(node.range[0]).line : undefined;
          throw new ConfigError(`unresolved YAML alias *${node.source} (its anchor must be set before the alias)`, this.file, line);
        }
        if (node.anchor) anchors.add(node.anchor);
      },
    });
  }

  /** Line and column of the node at `path` (of its key when `key` is true). */
  pos(path: Path, key = false): { line?: number; col?: number } {
    let node: unknown = this.doc.contents;
    let keyNode: unknown;
    for (const seg of path) {
      if (isMap(node)) {
        const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(seg));
        if (!pair) break;
        keyNode = pair.key;
        node = pair.value ?? pair.key;
      } else if (isSeq(node) && typeof seg === 'number') {
        keyNode = undefined;
        node = node.items[seg];
      } else break;
    }
    const target = (key && keyNode ? keyNode : node) as Node | undefined;
    const offset = target?.range?.[0];
    if (offset === undefined) return {};
    const p = this.lc.linePos(offset);
    return { line: p.line, col: p.col };
  }

  error(message: string, path: Path, key = false): ConfigError {
    const { line, col } = this.pos(path, key);
    return new ConfigError(message, this.file, line, col);
  }
}

export { didYouMean, editDistance } from './didyoumean.js';
