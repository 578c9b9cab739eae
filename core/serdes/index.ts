export { DeserializationError, Serdes, serde } from './serde.ts';
export { decodeUtf8, encodeUtf8, encodeUtf8Padded, isFixedWidth } from './serde.ts';
export type { FixedWidthSerde, Serde } from './serde.ts';
export { BatchText } from './batch-text.ts';
export { windowedSerde, valueAndTimestampSerde, changeSerde } from './composite.ts';
