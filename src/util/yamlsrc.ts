/**
 * YAML with source positions: every config error can name file:line:col of the offending key or value.
 */
import { readFileSync } from 'node:fs';
import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import { ConfigError } from '../errors.js';

export type Path = (string | number)[];

export class YamlSource {
  private constructor(
    public readonly file: string,
    public readonly doc: Document,
    private readonly lc: LineCounter,
  ) {}

  static parse(text: string, file: string): YamlSource {
    const lc = new LineCounter();
    const doc = parseDocument(text, { lineCounter: lc, uniqueKeys: true, prettyErrors: true });
    if (doc.errors.length) {
      const e = doc.errors[0]!;
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

  toJS(): unknown {
    return this.doc.toJS({ maxAliasCount: 1000 });
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
