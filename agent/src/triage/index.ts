/** Triage analysis of heap dumps: the public surface for the uploader. */
export { HprofAnalyzer } from './analyzer';
export type { AnalyzerOptions } from './analyzer';
export type { StructureVerdict } from './hprof-records';
export { headerSizes } from './hprof-format';
export type { NameRange, NameReader } from './name-index';
export { bufferNameReader, fileNameReader, gzipFileNameReader, gzipReaderNameReader, readerNameReader } from './name-readers';
export type { RangeRead } from './name-readers';
export * from './summary';
