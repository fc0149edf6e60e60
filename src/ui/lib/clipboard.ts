/** Copying text, with a fallback for browsers without the async clipboard API. */
export async function copyText(text: string, input?: HTMLInputElement): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text)
    return true
  } catch (err) {
    if (!input) {
      console.warn('clipboard write failed', err)
      return false
    }
    input.select()
    return document.execCommand('copy')
  }
}
