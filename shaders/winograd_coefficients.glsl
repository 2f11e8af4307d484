// SPDX-License-Identifier: MIT
// The Winograd transforms' coefficient matrices as specialization constants 10 to 265 (unset
// ones are 0): the rows' matrix, then the columns' (ops::WinogradConv, append_coefficients: the
// layout of winograd_matrices). Known when the pipeline is created, the Toom-Cook matrices' zeros
// and ones fold away, and no coefficient is read per invocation (on lavapipe each read is a call).
#define WC_(n) layout(constant_id = n) const float wc##n = 0.0;
WC_(10) WC_(11) WC_(12) WC_(13) WC_(14) WC_(15) WC_(16) WC_(17)
WC_(18) WC_(19) WC_(20) WC_(21) WC_(22) WC_(23) WC_(24) WC_(25)
WC_(26) WC_(27) WC_(28) WC_(29) WC_(30) WC_(31) WC_(32) WC_(33)
WC_(34) WC_(35) WC_(36) WC_(37) WC_(38) WC_(39) WC_(40) WC_(41)
WC_(42) WC_(43) WC_(44) WC_(45) WC_(46) WC_(47) WC_(48) WC_(49)
WC_(50) WC_(51) WC_(52) WC_(53) WC_(54) WC_(55) WC_(56) WC_(57)
WC_(58) WC_(59) WC_(60) WC_(61) WC_(62) WC_(63) WC_(64) WC_(65)
WC_(66) WC_(67) WC_(68) WC_(69) WC_(70) WC_(71) WC_(72) WC_(73)
WC_(74) WC_(75) WC_(76) WC_(77) WC_(78) WC_(79) WC_(80) WC_(81)
WC_(82) WC_(83) WC_(84) WC_(85) WC_(86) WC_(87) WC_(88) WC_(89)
WC_(90) WC_(91) WC_(92) WC_(93) WC_(94) WC_(95) WC_(96) WC_(97)
WC_(98) WC_(99) WC_(100) WC_(101) WC_(102) WC_(103) WC_(104) WC_(105)
WC_(106) WC_(107) WC_(108) WC_(109) WC_(110) WC_(111) WC_(112) WC_(113)
WC_(114) WC_(115) WC_(116) WC_(117) WC_(118) WC_(119) WC_(120) WC_(121)
WC_(122) WC_(123) WC_(124) WC_(125) WC_(126) WC_(127) WC_(128) WC_(129)
WC_(130) WC_(131) WC_(132) WC_(133) WC_(134) WC_(135) WC_(136) WC_(137)
WC_(138) WC_(139) WC_(140) WC_(141) WC_(142) WC_(143) WC_(144) WC_(145)
WC_(146) WC_(147) WC_(148) WC_(149) WC_(150) WC_(151) WC_(152) WC_(153)
WC_(154) WC_(155) WC_(156) WC_(157) WC_(158) WC_(159) WC_(160) WC_(161)
WC_(162) WC_(163) WC_(164) WC_(165) WC_(166) WC_(167) WC_(168) WC_(169)
WC_(170) WC_(171) WC_(172) WC_(173) WC_(174) WC_(175) WC_(176) WC_(177)
WC_(178) WC_(179) WC_(180) WC_(181) WC_(182) WC_(183) WC_(184) WC_(185)
WC_(186) WC_(187) WC_(188) WC_(189) WC_(190) WC_(191) WC_(192) WC_(193)
WC_(194) WC_(195) WC_(196) WC_(197) WC_(198) WC_(199) WC_(200) WC_(201)
WC_(202) WC_(203) WC_(204) WC_(205) WC_(206) WC_(207) WC_(208) WC_(209)
WC_(210) WC_(211) WC_(212) WC_(213) WC_(214) WC_(215) WC_(216) WC_(217)
WC_(218) WC_(219) WC_(220) WC_(221) WC_(222) WC_(223) WC_(224) WC_(225)
WC_(226) WC_(227) WC_(228) WC_(229) WC_(230) WC_(231) WC_(232) WC_(233)
WC_(234) WC_(235) WC_(236) WC_(237) WC_(238) WC_(239) WC_(240) WC_(241)
WC_(242) WC_(243) WC_(244) WC_(245) WC_(246) WC_(247) WC_(248) WC_(249)
WC_(250) WC_(251) WC_(252) WC_(253) WC_(254) WC_(255) WC_(256) WC_(257)
WC_(258) WC_(259) WC_(260) WC_(261) WC_(262) WC_(263) WC_(264) WC_(265)
#undef WC_
const int WC_COUNT = 256;
// float wc[WC_COUNT] = WC_ARRAY; in main: a global const cannot take specialization constants
#define WC_ARRAY float[]( \
    wc10, wc11, wc12, wc13, wc14, wc15, wc16, wc17, wc18, wc19, \
    wc20, wc21, wc22, wc23, wc24, wc25, wc26, wc27, wc28, wc29, \
    wc30, wc31, wc32, wc33, wc34, wc35, wc36, wc37, wc38, wc39, \
    wc40, wc41, wc42, wc43, wc44, wc45, wc46, wc47, wc48, wc49, \
    wc50, wc51, wc52, wc53, wc54, wc55, wc56, wc57, wc58, wc59, \
    wc60, wc61, wc62, wc63, wc64, wc65, wc66, wc67, wc68, wc69, \
    wc70, wc71, wc72, wc73, wc74, wc75, wc76, wc77, wc78, wc79, \
    wc80, wc81, wc82, wc83, wc84, wc85, wc86, wc87, wc88, wc89, \
    wc90, wc91, wc92, wc93, wc94, wc95, wc96, wc97, wc98, wc99, \
    wc100, wc101, wc102, wc103, wc104, wc105, wc106, wc107, wc108, wc109, \
    wc110, wc111, wc112, wc113, wc114, wc115, wc116, wc117, wc118, wc119, \
    wc120, wc121, wc122, wc123, wc124, wc125, wc126, wc127, wc128, wc129, \
    wc130, wc131, wc132, wc133, wc134, wc135, wc136, wc137, wc138, wc139, \
    wc140, wc141, wc142, wc143, wc144, wc145, wc146, wc147, wc148, wc149, \
    wc150, wc151, wc152, wc153, wc154, wc155, wc156, wc157, wc158, wc159, \
    wc160, wc161, wc162, wc163, wc164, wc165, wc166, wc167, wc168, wc169, \
    wc170, wc171, wc172, wc173, wc174, wc175, wc176, wc177, wc178, wc179, \
    wc180, wc181, wc182, wc183, wc184, wc185, wc186, wc187, wc188, wc189, \
    wc190, wc191, wc192, wc193, wc194, wc195, wc196, wc197, wc198, wc199, \
    wc200, wc201, wc202, wc203, wc204, wc205, wc206, wc207, wc208, wc209, \
    wc210, wc211, wc212, wc213, wc214, wc215, wc216, wc217, wc218, wc219, \
    wc220, wc221, wc222, wc223, wc224, wc225, wc226, wc227, wc228, wc229, \
    wc230, wc231, wc232, wc233, wc234, wc235, wc236, wc237, wc238, wc239, \
    wc240, wc241, wc242, wc243, wc244, wc245, wc246, wc247, wc248, wc249, \
    wc250, wc251, wc252, wc253, wc254, wc255, wc256, wc257, wc258, wc259, \
    wc260, wc261, wc262, wc263, wc264, wc265);
