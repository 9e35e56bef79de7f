/**
 * The definitions module the bad-input corpus tests load with --features: the accounts table of
 * ./fixtures.ts read from a CSV file (`accounts_csv`) and from Parquet (`accounts`).
 */
import { brand } from '../../../features/validate.ts'
import { account, accountsSource } from './fixtures.ts'

export { account }
export const accounts = brand(accountsSource())
export const accountsCsv = brand(
  accountsSource({
    name: 'accounts_csv',
    topic: 'accounts_csv',
    changes: { ...accountsSource().changes!, location: { format: 'csv', path: 'accounts.csv' } },
  }),
)
