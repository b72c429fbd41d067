/**
 * Sessions and their handle tables. A session belongs to one connection
 * (the ROUTER routing id); a handle names one page within one session and
 * counts its references. Handle ids come from one counter for the server's
 * life, so an id is never reused, and a handle of another session can be
 * told apart from one that never existed.
 */
import { randomBytes } from 'node:crypto';

import { ErrorCode, MmsbError, type PageId } from '@mmsb/bus';

import type { SessionFiles } from './shared-memory.js';

interface HandleEntry {
  readonly page: PageId;
  references: number;
}

export class Session {
  /** Random, so that a session cannot be guessed from another. */
  readonly id: bigint;
  /** The connection's routing id, as a map key. */
  readonly peer: string;
  readonly files: SessionFiles;
  readonly handles = new Map<number, HandleEntry>();
  readonly #byPage = new Map<PageId, number>();
  lastSeen: number;
  /** Requests being served; the server stops reading at the limit. */
  inFlight = 0;
  /** `bye` arrived: later requests are refused while those in flight finish. */
  ending = false;
  ended = false;

  constructor(id: bigint, peer: string, files: SessionFiles, now: number) {
    this.id = id;
    this.peer = peer;
    this.files = files;
    this.lastSeen = now;
  }

  /** The session's handle of `page`, if it holds one. */
  handleOf(page: PageId): number | undefined {
    return this.#byPage.get(page);
  }

  /** References over all handles. */
  get references(): number {
    let total = 0;
    for (const entry of this.handles.values()) total += entry.references;
    return total;
  }

  add(handle: number, page: PageId): void {
    this.handles.set(handle, { page, references: 1 });
    this.#byPage.set(page, handle);
  }

  drop(handle: number): void {
    const entry = this.handles.get(handle);
    if (entry === undefined) return;
    this.handles.delete(handle);
    this.#byPage.delete(entry.page);
  }
}

/** Every live session, and which session owns each live handle. */
export class Sessions {
  readonly #byPeer = new Map<string, Session>();
  readonly #owners = new Map<number, Session>();
  #nextHandle = 1;
  /** Handles freed over the server's life. */
  freed = 0;

  get size(): number {
    return this.#byPeer.size;
  }

  get handles(): number {
    return this.#owners.size;
  }

  *[Symbol.iterator](): IterableIterator<Session> {
    yield* this.#byPeer.values();
  }

  of(peer: string): Session | undefined {
    return this.#byPeer.get(peer);
  }

  open(peer: string, files: (id: bigint) => SessionFiles, now: number): Session {
    const id = randomBytes(8).readBigUInt64BE();
    const session = new Session(id, peer, files(id), now);
    this.#byPeer.set(peer, session);
    return session;
  }

  /** A handle for `page` in `session`: its existing one with one more reference, or a new one. */
  acquire(session: Session, page: PageId): number {
    const existing = session.handleOf(page);
    if (existing !== undefined) {
      session.handles.get(existing)!.references += 1;
      return existing;
    }
    const handle = this.#nextHandle++;
    session.add(handle, page);
    this.#owners.set(handle, session);
    return handle;
  }

  /** The page behind `handle`, which `session` must hold. */
  resolve(session: Session, handle: number): PageId {
    const entry = session.handles.get(handle);
    if (entry !== undefined) return entry.page;
    throw this.#refusal(handle);
  }

  #refusal(handle: number): MmsbError {
    if (this.#owners.has(handle)) {
      return new MmsbError(ErrorCode.HANDLE_FOREIGN, `handle ${handle} belongs to another session`);
    }
    return new MmsbError(ErrorCode.HANDLE_UNKNOWN, `handle ${handle} is not held by this session (never issued, or already released)`);
  }

  /**
   * Releases one reference per occurrence in `handles`, all or none: a
   * handle the session does not hold (enough times) fails the whole list.
   * Returns the handles freed.
   */
  release(session: Session, handles: readonly number[]): number[] {
    const wanted = new Map<number, number>();
    for (const handle of handles) wanted.set(handle, (wanted.get(handle) ?? 0) + 1);
    for (const [handle, count] of wanted) {
      const entry = session.handles.get(handle);
      if (entry === undefined) throw this.#refusal(handle);
      if (entry.references < count) {
        throw new MmsbError(
          ErrorCode.HANDLE_UNKNOWN,
          `handle ${handle} has ${entry.references} reference(s); the release list drops it ${count} times`,
        );
      }
    }
    const freed: number[] = [];
    for (const [handle, count] of wanted) {
      const entry = session.handles.get(handle)!;
      entry.references -= count;
      if (entry.references === 0) {
        this.#free(session, handle);
        freed.push(handle);
      }
    }
    return freed;
  }

  #free(session: Session, handle: number): void {
    session.drop(handle);
    this.#owners.delete(handle);
    session.files.forget(handle);
    this.freed += 1;
  }

  /** Ends a session: frees its handles and removes its files. Returns the handles freed. */
  end(session: Session): number {
    if (session.ended) return 0;
    session.ended = true;
    const handles = [...session.handles.keys()];
    for (const handle of handles) this.#free(session, handle);
    this.#byPeer.delete(session.peer);
    session.files.remove();
    return handles.length;
  }

  /** Ends every session silent since before `deadline`; returns them. */
  expire(deadline: number): Session[] {
    const expired = [...this.#byPeer.values()].filter((session) => session.lastSeen < deadline && session.inFlight === 0);
    for (const session of expired) this.end(session);
    return expired;
  }
}
