/** The ParquetCodec contract (test/contracts/parquet-codec.ts) against the parquet-wasm adapter, on and off the worker thread. */
import { createParquetCodec } from '../../../adapters/offline/parquet/index.ts'
import { runParquetCodecContract } from '../../contracts/parquet-codec.ts'

runParquetCodecContract('parquet-wasm (worker thread)', () => createParquetCodec())
runParquetCodecContract('parquet-wasm (in-process)', () => createParquetCodec({ worker: false }))
