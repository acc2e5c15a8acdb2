// What the candidate's browser can do: in-app browsers (WeChat, WeCom, QQ...) often lack WebRTC
// or camera access. Say so plainly and offer to open the link in the phone's own browser.
import { t } from "/static/i18n.js";

const IN_APP = [/MicroMessenger/i, /wxwork/i, /\bQQ\//i, /DingTalk/i, /AlipayClient/i, /Weibo/i, /FBAN|FBAV|Instagram|Line\//i];

export function inAppBrowser(ua = navigator.userAgent) {
  return IN_APP.some((re) => re.test(ua));
}

// null when the interview can run here, else the i18n key that explains why not.
export function unsupportedReason() {
  if (typeof window.RTCPeerConnection !== "function") return inAppBrowser() ? "ua_inapp_no_webrtc" : "ua_no_webrtc";
  if (!navigator.mediaDevices || typeof navigator.mediaDevices.getUserMedia !== "function") {
    if (!window.isSecureContext) return null; // the device check explains https itself
    return inAppBrowser() ? "ua_inapp_no_camera" : "ua_no_camera";
  }
  return null;
}

// Fill the "open in your browser" panel: the reason, steps, and a copy-link button.
export function showOpenInBrowser(panel, reasonKey) {
  panel.querySelector("[data-role=reason]").textContent = t(reasonKey);
  panel.querySelector("[data-role=steps]").textContent = t(inAppBrowser() ? "ua_steps_inapp" : "ua_steps_other");
  const link = panel.querySelector("[data-role=link]");
  link.value = location.href.split("#")[0];
  const button = panel.querySelector("[data-role=copy]");
  const status = panel.querySelector("[data-role=copied]");
  button.textContent = t("ua_copy");
  button.onclick = async () => {
    try {
      await navigator.clipboard.writeText(link.value);
    } catch {
      link.select();
      document.execCommand && document.execCommand("copy");
    }
    status.textContent = t("ua_copied");
  };
}
