/**
 * The bulk path: files in a private directory that client and server both
 * map or read. Layout: `<root>/mmsb-bridge-<uid>/<pid>-<random>/s<session>/`
 * (root: /dev/shm where it exists). Directories 0700, files 0600. A server
 * removes its own directory when it stops, and on start the directories of
 * servers whose process is gone.
 */
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  existsSync,
  fstatSync,
  ftruncateSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readSync,
  rmSync,
  constants as fs,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { ErrorCode, MmsbError } from '@mmsb/bus';
import { native } from '@mmsb/core-native';

/** Names a client may give its own files: no separators, not a read file's `h…`. */
const CLIENT_FILE = /^[A-Za-z0-9_.-]{1,128}$/;

function defaultRoot(): string {
  return existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A directory of ours: refuses one that another user owns or a symbolic link, which could redirect our writes. */
function ownDirectory(path: string): void {
  mkdirSync(path, { recursive: true, mode: 0o700 });
  const stat = lstatSync(path);
  const uid = process.getuid?.();
  if (!stat.isDirectory() || (uid !== undefined && stat.uid !== uid) || (stat.mode & 0o077) !== 0) {
    throw new MmsbError(
      ErrorCode.IO_ERROR,
      `${path} is not a private directory of this user; remove it or choose another shared-memory root`,
    );
  }
}

/** The server's shared-memory directory. */
export class SharedMemory {
  readonly directory: string;
  /** Bytes moved through files, each way. */
  bytesRead = 0;
  bytesWritten = 0;

  private constructor(directory: string) {
    this.directory = directory;
  }

  /** Makes the server's directory after removing those of servers no longer running. */
  static create(root: string = defaultRoot()): SharedMemory {
    const base = join(root, `mmsb-bridge-${process.getuid?.() ?? 'user'}`);
    ownDirectory(base);
    for (const entry of readdirSync(base)) {
      const pid = Number.parseInt(entry.split('-')[0] ?? '', 10);
      if (Number.isSafeInteger(pid) && pid > 0 && !alive(pid)) rmSync(join(base, entry), { recursive: true, force: true });
    }
    const directory = join(base, `${process.pid}-${randomBytes(4).toString('hex')}`);
    ownDirectory(directory);
    return new SharedMemory(directory);
  }

  session(id: bigint): SessionFiles {
    const directory = join(this.directory, `s${id.toString(16)}`);
    ownDirectory(directory);
    return new SessionFiles(directory, this);
  }

  remove(): void {
    rmSync(this.directory, { recursive: true, force: true });
  }
}

/** One session's files: the read file of each handle, and the files the client writes. */
export class SessionFiles {
  readonly directory: string;
  readonly #memory: SharedMemory;
  /** Each handle's read file, mapped once: a read is one copy into the mapping. */
  readonly #readFiles = new Map<number, Uint8Array>();

  constructor(directory: string, memory: SharedMemory) {
    this.directory = directory;
    this.#memory = memory;
  }

  /**
   * Copies `bytes` to `offset` of the read file of `handle`, made as large as
   * the page (and never shrunk, so that a client's mapping never loses its
   * pages under it) and mapped on first use. Returns the file's path.
   */
  publish(handle: number, pageSize: number, offset: number, bytes: Uint8Array): string {
    const path = join(this.directory, `h${handle}`);
    let mapping = this.#readFiles.get(handle);
    if (mapping === undefined) {
      // NOFOLLOW and NONBLOCK: a client that put a link or a FIFO in the way gets an error, not our write or a stall.
      const fd = openSync(path, fs.O_RDWR | fs.O_CREAT | fs.O_NOFOLLOW | fs.O_NONBLOCK, 0o600);
      try {
        const stat = fstatSync(fd);
        if (!stat.isFile()) throw new MmsbError(ErrorCode.SHM_INVALID, `${path} is not a regular file`);
        if (stat.size < pageSize) ftruncateSync(fd, pageSize);
      } finally {
        closeSync(fd);
      }
      mapping = native.mapSharedFile(path, true);
      // Read-only from now on (our mapping stays writable): a client cannot
      // truncate it under our mapping, which would fault the server, without
      // first changing its mode (processes of the same user are trusted that far).
      chmodSync(path, 0o400);
      this.#readFiles.set(handle, mapping);
    }
    mapping.set(bytes, offset);
    this.#memory.bytesWritten += bytes.length;
    return path;
  }

  /**
   * Reads `length` bytes at `offset` of the client's file `name` into
   * private memory, once: what is validated, logged and applied is this copy.
   */
  take(name: string, offset: number, length: number): Uint8Array {
    if (!CLIENT_FILE.test(name) || name.startsWith('h') || name === '.' || name === '..') {
      throw new MmsbError(
        ErrorCode.SHM_INVALID,
        `${JSON.stringify(name)} is not a file name a client may use in its shared-memory directory`,
      );
    }
    let fd: number;
    try {
      fd = openSync(join(this.directory, name), fs.O_RDONLY | fs.O_NOFOLLOW | fs.O_NONBLOCK);
    } catch {
      throw new MmsbError(ErrorCode.SHM_INVALID, `no file ${JSON.stringify(name)} in this session's shared-memory directory`);
    }
    try {
      const stat = fstatSync(fd);
      if (!stat.isFile() || offset + length > stat.size) {
        throw new MmsbError(ErrorCode.SHM_INVALID, `${name} holds ${stat.size} bytes; the range ${offset}+${length} is outside it`);
      }
      const copy = new Uint8Array(length);
      let done = 0;
      while (done < length) {
        const read = readSync(fd, copy, done, length - done, offset + done);
        if (read === 0) throw new MmsbError(ErrorCode.SHM_INVALID, `${name} shrank while it was read`);
        done += read;
      }
      this.#memory.bytesRead += length;
      return copy;
    } finally {
      closeSync(fd);
    }
  }

  /** Removes the read file of a freed handle. */
  forget(handle: number): void {
    // The mapping goes with its last reference; a client's own mapping outlives the file.
    if (this.#readFiles.delete(handle)) rmSync(join(this.directory, `h${handle}`), { force: true });
  }

  remove(): void {
    this.#readFiles.clear();
    rmSync(this.directory, { recursive: true, force: true });
  }
}
