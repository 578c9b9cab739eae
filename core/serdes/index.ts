export { DeserializationError, Serdes, serde } from './serde.ts';
export type { Serde } from './serde.ts';
export { windowedSerde, valueAndTimestampSerde, changeSerde } from './composite.ts';
