/**
 * Whether a private key file is encrypted, read from its format (the formats ssh2 parses): so that a key
 * ssh2 could not use is told as "encrypted, no passphrase given", "wrong passphrase" or "not a usable key"
 * from the file itself, never from the text of ssh2's error.
 */

/** True when the key file's own header says it is encrypted (OpenSSH, PEM, PKCS#8 or PuTTY format). */
export function isEncryptedKey(buf: Buffer): boolean {
  const text = buf.toString('latin1');
  const openssh = /-----BEGIN OPENSSH PRIVATE KEY-----([\s\S]*?)-----END OPENSSH PRIVATE KEY-----/.exec(text);
  if (openssh) return opensshCipher(Buffer.from(openssh[1]!.replace(/\s+/g, ''), 'base64')) !== 'none';
  if (/-----BEGIN ENCRYPTED PRIVATE KEY-----/.test(text)) return true;
  if (/^-----BEGIN [A-Z ]*PRIVATE KEY-----\r?\n(?:[A-Za-z-]+:.*\r?\n)*?Proc-Type:\s*4,\s*ENCRYPTED/m.test(text)) return true;
  const ppk = /^PuTTY-User-Key-File-\d+:.*\r?\nEncryption:\s*(\S+)/m.exec(text);
  return ppk !== null && ppk[1] !== 'none';
}

/** The cipher name of an "openssh-key-v1" key (undefined when the bytes are not one). */
function opensshCipher(data: Buffer): string | undefined {
  const magic = 'openssh-key-v1\0';
  if (data.length < magic.length + 4 || data.toString('latin1', 0, magic.length) !== magic) return undefined;
  const len = data.readUInt32BE(magic.length);
  const start = magic.length + 4;
  return start + len <= data.length ? data.toString('latin1', start, start + len) : undefined;
}
