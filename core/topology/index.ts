export * from './record.ts';
export * from './processor.ts';
export * from './topology.ts';
export * from './windows.ts';
export * from './duration.ts';
export * from './describe.ts';
export * from './compatibility.ts';
export * from './partition-counts.ts';
