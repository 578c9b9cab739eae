// Processors for stateless operators. Each is a small function of the record and a forward
// callback; processorOf wires it to the processor API.
import type { Processor, ProcessorContext } from '../../core/topology/processor.ts';
import type { StreamRecord } from '../../core/topology/record.ts';
import type { UntypedProcessor } from '../../core/topology/topology.ts';

export type Forward<KOut, VOut> = (record: StreamRecord<KOut, VOut>) => void;

/** Wraps a record handler as a processor supplier. */
export function processorOf<KIn, VIn, KOut, VOut>(
  handle: (record: StreamRecord<KIn, VIn>, forward: Forward<KOut, VOut>, context: ProcessorContext<KOut, VOut>) => void,
): () => UntypedProcessor {
  return () => {
    let context: ProcessorContext<KOut, VOut> | null = null;
    let forward: Forward<KOut, VOut> = () => undefined;
    const processor: Processor<KIn, VIn, KOut, VOut> = {
      init: (processorContext) => {
        context = processorContext;
        // Bound rather than wrapped: one call less per record and hop.
        forward = processorContext.forward.bind(processorContext) as Forward<KOut, VOut>;
      },
      process: (record) => {
        if (context === null) throw new Error('processor used before init');
        handle(record, forward, context);
      },
    };
    return processor as UntypedProcessor;
  };
}

export function filterProcessor<K, V>(predicate: (value: V, key: K) => boolean, keep: boolean): () => UntypedProcessor {
  return processorOf<K, V, K, V>((record, forward) => {
    if (predicate(record.value, record.key) === keep) forward(record);
  });
}

export function mapProcessor<K, V, KR, VR>(mapper: (value: V, key: K) => readonly [KR, VR]): () => UntypedProcessor {
  return processorOf<K, V, KR, VR>((record, forward) => {
    const [key, value] = mapper(record.value, record.key);
    forward({ key, value, timestamp: record.timestamp, headers: record.headers });
  });
}

export function mapValuesProcessor<K, V, VR>(mapper: (value: V, key: K) => VR): () => UntypedProcessor {
  return processorOf<K, V, K, VR>((record, forward) => {
    forward({ key: record.key, value: mapper(record.value, record.key), timestamp: record.timestamp, headers: record.headers });
  });
}

export function flatMapProcessor<K, V, KR, VR>(mapper: (value: V, key: K) => Iterable<readonly [KR, VR]>): () => UntypedProcessor {
  return processorOf<K, V, KR, VR>((record, forward) => {
    for (const [key, value] of mapper(record.value, record.key)) forward({ ...record, key, value });
  });
}

export function flatMapValuesProcessor<K, V, VR>(mapper: (value: V, key: K) => Iterable<VR>): () => UntypedProcessor {
  return processorOf<K, V, K, VR>((record, forward) => {
    for (const value of mapper(record.value, record.key)) forward({ ...record, value });
  });
}

export function selectKeyProcessor<K, V, KR>(selector: (value: V, key: K) => KR): () => UntypedProcessor {
  return processorOf<K, V, KR, V>((record, forward) => {
    forward({ ...record, key: selector(record.value, record.key) });
  });
}

export function peekProcessor<K, V>(action: (value: V, key: K) => void, forwards: boolean): () => UntypedProcessor {
  return processorOf<K, V, K, V>((record, forward) => {
    action(record.value, record.key);
    if (forwards) forward(record);
  });
}

/** Sends each record to the first branch whose predicate holds, or to the default branch. */
export function branchProcessor<K, V>(branches: readonly { readonly predicate: (value: V, key: K) => boolean; readonly child: string }[], defaultChild: string | null): () => UntypedProcessor {
  return processorOf<K, V, K, V>((record, _forward, context) => {
    for (const branch of branches) {
      if (branch.predicate(record.value, record.key)) {
        context.forward(record, branch.child);
        return;
      }
    }
    if (defaultChild !== null) context.forward(record, defaultChild);
  });
}

/** Passes records on unchanged: merge points and branch heads. */
export function passThroughProcessor(): () => UntypedProcessor {
  return processorOf<unknown, unknown, unknown, unknown>((record, forward) => forward(record));
}
