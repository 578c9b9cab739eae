// Types for the part of rocksdb-native 3.18 that Runnel uses; the package ships none. Keys and
// values are always bytes here: Runnel never sets the binding's key or value encodings, so every
// read returns a Buffer (a Uint8Array) and every write takes one.
declare module 'rocksdb-native' {
  interface ColumnFamilyOptions {
    /** Memtable size per column family; the binding has no shared write buffer manager. */
    writeBufferSize?: number;
    maxWriteBufferNumber?: number;
    /** Only on or off: the block cache size is fixed inside the binding. */
    blockCache?: boolean;
    /** Defaults to true, and RocksDB refuses to open a column family with it but no block cache. */
    tableCacheIndexAndFilterBlocks?: boolean;
    tableBlockSize?: number;
  }

  interface OpenOptions extends ColumnFamilyOptions {
    /** Column families must all be named before the database opens; none can be added later. */
    columnFamilies?: string[];
    createIfMissing?: boolean;
    maxBackgroundJobs?: number;
    /** Skips flushing memtables on close; Runnel flushes explicitly instead. */
    avoidFlushDuringShutdown?: boolean;
  }

  interface IteratorRange {
    gt?: Uint8Array;
    gte?: Uint8Array;
    lt?: Uint8Array;
    lte?: Uint8Array;
    reverse?: boolean;
    limit?: number;
    /** Entries fetched per native call. */
    capacity?: number;
  }

  interface Entry {
    key: Buffer;
    value: Buffer;
  }

  interface ReadBatch {
    get(key: Uint8Array): Promise<Buffer | null>;
    /** Sends the queued gets without waiting; the promises from get() settle later. */
    tryFlush(): void;
    flush(): Promise<void>;
    destroy(): void;
  }

  interface WriteBatch {
    tryPut(key: Uint8Array, value: Uint8Array): void;
    tryDelete(key: Uint8Array): void;
    /** Deletes keys in [start, end). */
    tryDeleteRange(start: Uint8Array, end: Uint8Array): void;
    /** Applies every queued operation atomically, across column families. */
    flush(): Promise<void>;
    destroy(): void;
  }

  class RocksDB {
    constructor(path: string, options?: OpenOptions);
    readonly opened: boolean;
    readonly closed: boolean;
    readonly path: string;
    ready(): Promise<void>;
    /** A session bound to one column family; the name must have been given at open. */
    columnFamily(name: string): RocksDB;
    read(options?: { capacity?: number; autoDestroy?: boolean }): ReadBatch;
    write(options?: { capacity?: number; autoDestroy?: boolean }): WriteBatch;
    get(key: Uint8Array): Promise<Buffer | null>;
    delete(key: Uint8Array): Promise<void>;
    iterator(range?: IteratorRange): AsyncIterable<Entry>;
    /** Flushes this session's column family memtable to an SST file. */
    flush(): Promise<void>;
    compactRange(start: Uint8Array | null, end: Uint8Array | null): Promise<void>;
    getProperty(name: string): Promise<string | number | null | undefined>;
    close(options?: { force?: boolean }): Promise<void>;
  }

  export default RocksDB;
}
