/** Browser-provided pieces of `UiDeps` that do not need src/app. */
import type { MicrophoneDevice, Watchable } from './deps.ts'

export function browserOnline(win: Window = window): Watchable<boolean> {
  return {
    get: () => win.navigator.onLine,
    subscribe(listener) {
      win.addEventListener('online', listener)
      win.addEventListener('offline', listener)
      return () => {
        win.removeEventListener('online', listener)
        win.removeEventListener('offline', listener)
      }
    },
  }
}

/** Audio inputs; labels stay empty until the page has microphone permission. */
export async function browserMicrophones(media: MediaDevices = navigator.mediaDevices): Promise<MicrophoneDevice[]> {
  const devices = await media.enumerateDevices()
  return devices.filter((d) => d.kind === 'audioinput').map((d) => ({ deviceId: d.deviceId, label: d.label }))
}
