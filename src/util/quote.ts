/** Kept for callers outside src/remote (the lab, transport): robot shell's quoting lives in src/remote/quote.ts. */
export { shQuote } from '../remote/quote.js';
